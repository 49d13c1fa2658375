// kv-server entry point: argv + config -> Server. Nothing else lives here.
#include "server/server.h"

int main(int argc, char** argv) { return kv::server::Main(argc, argv); }
