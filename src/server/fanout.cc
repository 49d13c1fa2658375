#include "server/fanout.h"

#include <cstring>

#include "resp/reply_reader.h"

namespace kv::server {

namespace {

Merge MergeFor(const Command& cmd) {
  if (strcmp(cmd.name, "mget") == 0) return Merge::kArrayInOrder;
  if (strcmp(cmd.name, "mset") == 0) return Merge::kAllOk;
  if (strcmp(cmd.name, "del") == 0 || strcmp(cmd.name, "unlink") == 0 ||
      strcmp(cmd.name, "exists") == 0) {
    return Merge::kSumIntegers;
  }
  return Merge::kSingle;
}

}  // namespace

bool PlanFanout(const Command& cmd, const Argv& argv,
                const std::function<uint64_t(std::string_view key)>& owner_of, FanoutPlan* plan,
                std::string* error) {
  plan->parts.clear();
  const size_t step = static_cast<size_t>(cmd.key_step > 0 ? cmd.key_step : 1);
  plan->keys = 0;
  AnyKeyIndex(cmd, argv.size(), [&](size_t i) {
    const uint64_t owner = owner_of(argv[i]);
    FanoutPart* part = nullptr;
    for (auto& p : plan->parts) {
      if (p.owner == owner) part = &p;
    }
    if (part == nullptr) {
      plan->parts.push_back(FanoutPart{owner, {std::string(argv[0])}, {}});
      part = &plan->parts.back();
    }
    for (size_t j = i; j < i + step && j < argv.size(); j++) part->argv.emplace_back(argv[j]);
    part->key_positions.push_back(plan->keys++);
    return false;
  });
  if (plan->parts.size() <= 1) {
    // One owner: the command goes as it is (options after the keys too).
    plan->merge = Merge::kSingle;
    if (plan->parts.size() == 1) plan->parts[0].argv.assign(argv.begin(), argv.end());
    return true;
  }
  plan->merge = MergeFor(cmd);
  if (plan->merge == Merge::kSingle) {
    *error = std::string("CROSSSLOT Keys in request don't hash to the same node; '") + cmd.name +
             "' cannot be split across nodes";
    plan->parts.clear();
    return false;
  }
  return true;
}

bool PlanClusterWide(const Command& cmd, const Argv& argv, const std::vector<uint64_t>& nodes,
                     FanoutPlan* plan) {
  if (strcmp(cmd.name, "dbsize") == 0) {
    plan->merge = Merge::kSumIntegers;
  } else if (strcmp(cmd.name, "flushall") == 0 || strcmp(cmd.name, "flushdb") == 0) {
    plan->merge = Merge::kAllOk;
  } else if (strcmp(cmd.name, "keys") == 0) {
    plan->merge = Merge::kConcatArrays;
  } else {
    return false;
  }
  plan->keys = 0;
  plan->parts.clear();
  for (uint64_t node : nodes) {
    plan->parts.push_back(FanoutPart{node, std::vector<std::string>(argv.begin(), argv.end()), {}});
  }
  return true;
}

bool MergeReplies(const FanoutPlan& plan, const std::vector<std::string>& replies,
                  std::string* out) {
  out->clear();
  for (const std::string& r : replies) {
    if (resp::IsErrorReply(r)) {
      *out = r;
      return true;
    }
  }
  auto shape_error = [&] {
    *out = "-ERR unexpected reply from a node while merging a multi-key command\r\n";
    return false;
  };
  if (replies.size() != plan.parts.size()) return shape_error();
  switch (plan.merge) {
    case Merge::kSingle:
      if (replies.size() != 1) return shape_error();
      *out = replies[0];
      return true;
    case Merge::kSumIntegers: {
      int64_t sum = 0;
      for (const std::string& r : replies) {
        int64_t v = 0;
        if (!resp::IntegerValue(r, &v)) return shape_error();
        sum += v;
      }
      *out = ":" + std::to_string(sum) + "\r\n";
      return true;
    }
    case Merge::kAllOk:
      for (const std::string& r : replies) {
        if (r != "+OK\r\n") return shape_error();
      }
      *out = "+OK\r\n";
      return true;
    case Merge::kConcatArrays: {
      std::vector<std::string_view> all, elements;
      for (const std::string& r : replies) {
        if (!resp::ArrayElements(r, &elements)) return shape_error();
        all.insert(all.end(), elements.begin(), elements.end());
      }
      *out = "*" + std::to_string(all.size()) + "\r\n";
      for (std::string_view e : all) out->append(e);
      return true;
    }
    case Merge::kArrayInOrder: {
      std::vector<std::string_view> slots(plan.keys);
      std::vector<std::string_view> elements;
      for (size_t i = 0; i < replies.size(); i++) {
        if (!resp::ArrayElements(replies[i], &elements) ||
            elements.size() != plan.parts[i].key_positions.size()) {
          return shape_error();
        }
        for (size_t j = 0; j < elements.size(); j++) {
          slots[plan.parts[i].key_positions[j]] = elements[j];
        }
      }
      // The parts answered in the client's protocol; an array header is
      // the same in RESP2 and RESP3.
      *out = "*" + std::to_string(plan.keys) + "\r\n";
      for (std::string_view e : slots) out->append(e);
      return true;
    }
  }
  return shape_error();
}

}  // namespace kv::server
