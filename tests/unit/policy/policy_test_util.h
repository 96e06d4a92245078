// Helpers for the policy unit tests: run a compiled program on a synthetic call.
#pragma once

#include <initializer_list>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "policy/bpf_interp.h"
#include "policy/policy.h"

namespace clonebot::policy::testing {

// The action |c| takes for |name|(args...), through the userspace interpreter.
inline std::string Verdict(const Compiled& c, const std::string& name, std::vector<uint64_t> args = {}) {
  auto nr = ResolveSyscall(name);
  if (!nr.ok()) return "bad syscall: " + std::string(nr.status().message());
  auto ret = RunSeccompBpf(c.program, MakeSeccompData(*nr, args));
  if (!ret.ok()) return "bpf error: " + std::string(ret.status().message());
  return DescribeSeccompRet(*ret);
}

inline Compiled MustCompile(const Policy& p, const CompileOptions& o = {}) {
  auto c = Compile(p, o);
  EXPECT_TRUE(c.ok()) << c.status();
  return c.ok() ? *c : Compiled{};
}

inline Policy MustParse(const std::string& yaml) {
  auto p = ParseClonePolicy(yaml, "t.yaml");
  EXPECT_TRUE(p.ok()) << p.status();
  return p.ok() ? *p : Policy{};
}

// "clonepolicy: 1\ndefault: <def>\nrules:\n" + rules.
inline std::string Yaml(const std::string& def, const std::string& rules) {
  return "clonepolicy: 1\ndefault: " + def + "\nrules:\n" + rules;
}

inline std::string ParseError(const std::string& yaml) {
  auto p = ParseClonePolicy(yaml, "t.yaml");
  if (p.ok()) return "(parsed fine)";
  return std::string(p.status().message());
}

}  // namespace clonebot::policy::testing
