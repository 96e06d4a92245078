// ClonePolicy v1 parsing: accepted forms, and every error with its exact FILE:LINE:COL.
#include <fcntl.h>
#include <sys/socket.h>

#include <fstream>
#include <sstream>

#include "gtest/gtest.h"
#include "policy/policy.h"
#include "policy_test_util.h"

namespace clonebot::policy {
namespace {

using testing::MustParse;
using testing::ParseError;
using testing::Yaml;

TEST(PolicyParse, FullExample) {
  Policy p = MustParse(Yaml("errno(EPERM)",
                            "  - syscalls: [socket, connect, \"@network-io\"]\n"      // line 4
                            "    action: errno(EACCES)\n"
                            "  - syscall: socket\n"                                  // line 6
                            "    when: [\"arg0 == AF_INET\", \"arg1 & SOCK_RAW == SOCK_RAW\"]\n"
                            "    action: kill-process\n"
                            "  - syscalls: [getppid]\n"                              // line 9
                            "    when: \"arg0 != 0\"\n"
                            "    action: log\n"));
  EXPECT_EQ(p.format, "clonepolicy-v1");
  EXPECT_EQ(p.origin, "t.yaml");
  EXPECT_EQ(p.default_action, (Action{ActionKind::kErrno, EPERM}));
  ASSERT_EQ(p.rules.size(), 3u);

  const Rule& r0 = p.rules[0];
  EXPECT_EQ(r0.line, 4);
  EXPECT_EQ(r0.column, 5);
  EXPECT_EQ(r0.action, (Action{ActionKind::kErrno, EACCES}));
  EXPECT_EQ(r0.written, (std::vector<std::string>{"socket", "connect", "@network-io"}));
  // socket and connect once each, then the rest of the class in class order.
  ASSERT_EQ(r0.syscalls.size(), 18u);
  EXPECT_EQ(r0.syscalls[0], "socket");
  EXPECT_EQ(r0.syscalls[1], "connect");
  EXPECT_EQ(r0.syscalls[2], "socketpair");
  EXPECT_TRUE(r0.args.empty());
  EXPECT_EQ(r0.source, "socket, connect, @network-io");

  const Rule& r1 = p.rules[1];
  EXPECT_EQ(r1.line, 6);
  EXPECT_EQ(r1.syscalls, (std::vector<std::string>{"socket"}));
  ASSERT_EQ(r1.args.size(), 2u);
  EXPECT_EQ(r1.args[0], (ArgCond{0, CmpOp::kEq, AF_INET, 0}));
  EXPECT_EQ(r1.args[1], (ArgCond{1, CmpOp::kMaskedEq, SOCK_RAW, SOCK_RAW}));
  EXPECT_EQ(r1.action.kind, ActionKind::kKillProcess);
  EXPECT_EQ(r1.source, "socket when arg0 == AF_INET and arg1 & SOCK_RAW == SOCK_RAW");

  const Rule& r2 = p.rules[2];
  EXPECT_EQ(r2.line, 9);
  ASSERT_EQ(r2.args.size(), 1u);
  EXPECT_EQ(r2.args[0], (ArgCond{0, CmpOp::kNe, 0, 0}));
  EXPECT_EQ(r2.action.kind, ActionKind::kLog);
}

TEST(PolicyParse, NoRulesAndEmptyRules) {
  EXPECT_TRUE(MustParse("clonepolicy: 1\ndefault: allow\n").rules.empty());
  EXPECT_TRUE(MustParse("clonepolicy: 1\ndefault: allow\nrules: []\n").rules.empty());
  EXPECT_TRUE(MustParse("clonepolicy: 1\ndefault: allow\nrules:\n").rules.empty());
}

TEST(PolicyParse, UnknownTopLevelKey) {
  EXPECT_EQ(ParseError("clonepolicy: 1\ndefault: allow\nrulez: []\n"),
            "t.yaml:3:1: unknown key 'rulez' (expected clonepolicy, default, rules); did you mean 'rules'?");
}

TEST(PolicyParse, UnknownRuleKey) {
  EXPECT_EQ(ParseError(Yaml("allow", "  - syscalls: [socket]\n    actoin: allow\n")),
            "t.yaml:5:5: unknown key 'actoin' in rule (expected syscall, syscalls, when, action); did you mean 'action'?");
}

TEST(PolicyParse, BadAction) {
  EXPECT_EQ(ParseError(Yaml("allow", "  - syscalls: [socket]\n    action: deny\n")),
            "t.yaml:5:13: unknown action 'deny' (expected allow, errno(E), kill-process, kill-thread, log, trace(N))");
  EXPECT_EQ(ParseError(Yaml("allow", "  - syscalls: [socket]\n    action: kill-proces\n")),
            "t.yaml:5:13: unknown action 'kill-proces' (expected allow, errno(E), kill-process, kill-thread, log, "
            "trace(N)); did you mean 'kill-process'?");
  EXPECT_EQ(ParseError(Yaml("allow", "  - syscalls: [socket]\n    action: errno(EFOO)\n")),
            "t.yaml:5:13: errno(EFOO): unknown errno name");
  EXPECT_EQ(ParseError(Yaml("allow", "  - syscalls: [socket]\n    action: errno(0)\n")),
            "t.yaml:5:13: errno(0): the number must be 1..4095");
  EXPECT_EQ(ParseError(Yaml("allow", "  - syscalls: [socket]\n    action: errno(4096)\n")),
            "t.yaml:5:13: errno(4096): the number must be 1..4095");
  EXPECT_EQ(ParseError(Yaml("allow", "  - syscalls: [socket]\n    action: allow(1)\n")),
            "t.yaml:5:13: action 'allow' takes no arguments");
  EXPECT_EQ(ParseError(Yaml("allow", "  - syscalls: [socket]\n    action: errno(EPERM\n")),
            "t.yaml:5:13: bad action 'errno(EPERM': missing ')'");
  EXPECT_EQ(ParseError(Yaml("allow", "  - syscalls: [socket]\n    action: trace(70000)\n")),
            "t.yaml:5:13: trace takes an optional number 0..65535: trace, trace(7)");
  EXPECT_EQ(ParseError("clonepolicy: 1\ndefault: nope\n"),
            "t.yaml:2:10: unknown action 'nope' (expected allow, errno(E), kill-process, kill-thread, log, trace(N))");
  EXPECT_EQ(ParseError(Yaml("allow", "  - syscalls: [socket]\n    action: [allow]\n")),
            "t.yaml:5:13: 'action' must be an action such as errno(EACCES)");
}

TEST(PolicyParse, UnknownSyscallSuggestsClosest) {
  EXPECT_EQ(ParseError(Yaml("allow", "  - syscalls: [sokcet]\n    action: errno(EACCES)\n")),
            "t.yaml:4:16: unknown syscall 'sokcet'; did you mean 'socket'?");
  EXPECT_EQ(ParseError(Yaml("allow", "  - syscall: getppidd\n    action: log\n")),
            "t.yaml:4:14: unknown syscall 'getppidd'; did you mean 'getppid'?");
  // Nothing within edit distance 2: no suggestion.
  EXPECT_EQ(ParseError(Yaml("allow", "  - syscall: frobnicate\n    action: log\n")),
            "t.yaml:4:14: unknown syscall 'frobnicate'");
  std::string cls = ParseError(Yaml("allow", "  - syscalls: [read, \"@netwrk-io\"]\n    action: log\n"));
  EXPECT_TRUE(cls.starts_with("t.yaml:4:22: unknown syscall class '@netwrk-io'; did you mean '@network-io'? (classes: "))
      << cls;
}

TEST(PolicyParse, BadCondition) {
  const std::string usage = " (expected 'argN OP VALUE' or 'argN & MASK == VALUE')";
  auto err = [](const std::string& cond) {
    return ParseError(Yaml("allow", "  - syscall: socket\n    when: [\"" + cond + "\"]\n    action: log\n"));
  };
  EXPECT_EQ(err("arg7 == 1"), "t.yaml:5:12: bad condition 'arg7 == 1': argument index must be 0..5" + usage);
  EXPECT_EQ(err("arg0 ~ 1"), "t.yaml:5:12: bad condition 'arg0 ~ 1': missing operator (== != < <= > >=)" + usage);
  EXPECT_EQ(err("fd == 1"), "t.yaml:5:12: bad condition 'fd == 1': it must start with arg0..arg5" + usage);
  EXPECT_EQ(err("arg0 == AF_INTE"),
            "t.yaml:5:12: bad condition 'arg0 == AF_INTE': unknown constant 'AF_INTE'; did you mean 'AF_INET'? "
            "(use a number, or a name from docs/policy.md)" + usage);
  EXPECT_EQ(err("arg1 & 3 != 1"), "t.yaml:5:12: bad condition 'arg1 & 3 != 1': a masked comparison must use '=='" + usage);
  EXPECT_EQ(err("arg1 & 3 == 4"),
            "t.yaml:5:12: bad condition 'arg1 & 3 == 4': the value has bits outside the mask, so it can never match" +
                usage);
  EXPECT_EQ(err("arg0 == 0x"), "t.yaml:5:12: bad condition 'arg0 == 0x': bad number '0x'" + usage);
  EXPECT_EQ(err("arg0 =="), "t.yaml:5:12: bad condition 'arg0 ==': missing value" + usage);
}

TEST(PolicyParse, WrongOrMissingVersion) {
  EXPECT_EQ(ParseError("clonepolicy: 2\ndefault: allow\n"),
            "t.yaml:1:14: unsupported version '2' (this clonebot reads clonepolicy: 1)");
  EXPECT_EQ(ParseError("default: allow\n"), "t.yaml:1:1: missing 'clonepolicy: 1' (the format version)");
  EXPECT_EQ(ParseError("clonepolicy: 1\n"),
            "t.yaml:1:1: missing 'default' (the action for syscalls no rule matches, e.g. 'default: allow')");
  EXPECT_EQ(ParseError(""), "t.yaml:1:1: empty policy (a ClonePolicy file starts with 'clonepolicy: 1')");
  EXPECT_EQ(ParseError("- a\n- b\n"),
            "t.yaml:1:1: a ClonePolicy file is a YAML mapping that starts with 'clonepolicy: 1'");
}

TEST(PolicyParse, YamlSyntaxError) {
  // An unclosed flow sequence: yaml-cpp stops at the ':' of the next line's key.
  EXPECT_EQ(ParseError(Yaml("allow", "  - syscalls: [socket\n    action: allow\n")),
            "t.yaml:5:11: YAML syntax error: end of sequence flow not found");
  EXPECT_EQ(ParseError("clonepolicy: 1\ndefault: allow\n  bad: indent\n"),
            "t.yaml:3:6: YAML syntax error: illegal map value");
}

TEST(PolicyParse, RuleShapeErrors) {
  EXPECT_EQ(ParseError(Yaml("allow", "  - syscall: read\n    syscalls: [write]\n    action: log\n")),
            "t.yaml:5:5: a rule has either 'syscall' or 'syscalls', not both");
  EXPECT_EQ(ParseError(Yaml("allow", "  - action: log\n")), "t.yaml:4:5: a rule needs 'syscalls' (or 'syscall')");
  EXPECT_EQ(ParseError(Yaml("allow", "  - syscall: read\n")), "t.yaml:4:5: a rule needs an 'action'");
  EXPECT_EQ(ParseError(Yaml("allow", "  - syscalls: []\n    action: log\n")), "t.yaml:4:15: empty syscall list");
  EXPECT_EQ(ParseError(Yaml("allow", "  - syscall: read\n    action: log\n    action: allow\n")),
            "t.yaml:6:5: duplicate key 'action' in rule");
  EXPECT_EQ(ParseError("clonepolicy: 1\ndefault: allow\ndefault: log\n"), "t.yaml:3:1: duplicate key 'default'");
  EXPECT_EQ(ParseError(Yaml("allow", "  - read\n")),
            "t.yaml:4:5: a rule is a mapping with 'syscalls' (or 'syscall'), optional 'when', and 'action'");
  EXPECT_EQ(ParseError("clonepolicy: 1\ndefault: allow\nrules: {a: 1}\n"), "t.yaml:3:8: 'rules' must be a list of rules");
}

TEST(PolicyParse, Actions) {
  struct Case {
    const char* text;
    Action want;
    const char* formatted;
  } cases[] = {
      {"allow", {ActionKind::kAllow}, "allow"},
      {"errno(EPERM)", {ActionKind::kErrno, EPERM}, "errno(EPERM)"},
      {"errno(13)", {ActionKind::kErrno, 13}, "errno(EACCES)"},
      {" errno( ENOSYS ) ", {ActionKind::kErrno, ENOSYS}, "errno(ENOSYS)"},
      {"errno(EWOULDBLOCK)", {ActionKind::kErrno, EAGAIN}, "errno(EAGAIN)"},
      {"errno(EHWPOISON)", {ActionKind::kErrno, EHWPOISON}, "errno(EHWPOISON)"},
      {"errno(4000)", {ActionKind::kErrno, 4000}, "errno(4000)"},
      {"kill-process", {ActionKind::kKillProcess}, "kill-process"},
      {"kill-thread", {ActionKind::kKillThread}, "kill-thread"},
      {"log", {ActionKind::kLog}, "log"},
      {"trace", {ActionKind::kTrace}, "trace"},
      {"trace(7)", {ActionKind::kTrace, 0, 7}, "trace(7)"},
  };
  for (const Case& c : cases) {
    auto a = ParseAction(c.text);
    ASSERT_TRUE(a.ok()) << c.text << ": " << a.status();
    EXPECT_EQ(*a, c.want) << c.text;
    EXPECT_EQ(FormatAction(*a), c.formatted);
    auto again = ParseAction(FormatAction(*a));
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(*again, *a);
  }
  EXPECT_FALSE(ParseAction("errno").ok());
  EXPECT_FALSE(ParseAction("errno()").ok());
  EXPECT_FALSE(ParseAction("errno(EPERM, EACCES)").ok());
  EXPECT_FALSE(ParseAction("").ok());
}

TEST(PolicyParse, Values) {
  EXPECT_EQ(*ParseValue("0"), 0u);
  EXPECT_EQ(*ParseValue("42"), 42u);
  EXPECT_EQ(*ParseValue("0x7E020000"), 0x7e020000u);
  EXPECT_EQ(*ParseValue("18446744073709551615"), ~uint64_t{0});
  EXPECT_EQ(*ParseValue("-1"), ~uint64_t{0});
  EXPECT_EQ(*ParseValue("-100"), static_cast<uint64_t>(int64_t{-100}));
  EXPECT_EQ(*ParseValue("AT_FDCWD"), static_cast<uint64_t>(int64_t{AT_FDCWD}));
  EXPECT_EQ(*ParseValue("AF_INET6"), static_cast<uint64_t>(AF_INET6));
  EXPECT_EQ(*ParseValue("O_WRONLY|O_CREAT"), static_cast<uint64_t>(O_WRONLY | O_CREAT));
  EXPECT_EQ(*ParseValue(" O_RDWR | O_TRUNC | 0x10 "), static_cast<uint64_t>(O_RDWR | O_TRUNC | 0x10));
  EXPECT_EQ(*ParseValue("CLONE_NEWUSER|CLONE_NEWNS"), 0x10020000u);
  EXPECT_FALSE(ParseValue("18446744073709551616").ok());
  EXPECT_FALSE(ParseValue("12abc").ok());
  EXPECT_FALSE(ParseValue("O_WRONLY|").ok());
  EXPECT_FALSE(ParseValue("").ok());
}

TEST(PolicyParse, Conditions) {
  struct Case {
    const char* text;
    ArgCond want;
  } cases[] = {
      {"arg0 == 1", {0, CmpOp::kEq, 1, 0}},
      {"arg5!=0x10", {5, CmpOp::kNe, 16, 0}},
      {"arg2 < 3", {2, CmpOp::kLt, 3, 0}},
      {"arg2 <= 3", {2, CmpOp::kLe, 3, 0}},
      {"arg3 > AF_INET", {3, CmpOp::kGt, AF_INET, 0}},
      {"arg3 >= 0", {3, CmpOp::kGe, 0, 0}},
      {"arg1 & O_ACCMODE == O_WRONLY", {1, CmpOp::kMaskedEq, O_WRONLY, O_ACCMODE}},
      {"arg1&0xff==0x10", {1, CmpOp::kMaskedEq, 0x10, 0xff}},
  };
  for (const Case& c : cases) {
    auto got = ParseCond(c.text);
    ASSERT_TRUE(got.ok()) << c.text << ": " << got.status();
    EXPECT_EQ(*got, c.want) << c.text;
  }
  EXPECT_EQ(FormatCond(ArgCond{1, CmpOp::kMaskedEq, 3, 3}), "arg1 & 3 == 3");
  EXPECT_EQ(FormatCond(ArgCond{0, CmpOp::kGe, 40, 0}), "arg0 >= 0x28");
  EXPECT_FALSE(ParseCond("arg01 == 1").ok());
  EXPECT_FALSE(ParseCond("arg0 == 1 == 2").ok());
}

TEST(PolicyParse, ClassesAreDocumentedAndNative) {
  std::string here = __FILE__;  // .../tests/unit/policy/parse_test.cc
  std::ifstream in(here.substr(0, here.rfind("/tests/")) + "/docs/policy.md");
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string doc = ss.str();
  ASSERT_FALSE(doc.empty());
  auto classes = ListSyscallClasses();
  EXPECT_GE(classes.size(), 12u);
  for (const SyscallClassInfo& c : classes) {
    EXPECT_NE(doc.find("| `@" + c.name + "` |"), std::string::npos) << "docs/policy.md lacks @" << c.name;
    EXPECT_FALSE(c.syscalls.empty()) << c.name;
    for (const std::string& s : c.syscalls) {
      EXPECT_TRUE(ResolveSyscall(s).ok()) << s;
      if (c.name != "privileged") {
        EXPECT_NE(doc.find(" " + s + " "), std::string::npos) << s << " of @" << c.name;
      }
    }
  }
}

}  // namespace
}  // namespace clonebot::policy
