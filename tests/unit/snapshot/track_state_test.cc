// TrackState: the one-record state file (tracking.h), rewritten in place, and the removal of
// the files of processes that are gone.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "gtest/gtest.h"
#include "snapshot/tracking.h"

namespace clonebot::snapshot {
namespace {

std::string Dir(const std::string& path) { return path.substr(0, path.rfind('/')); }

TEST(TrackState, RecordRewrittenInPlace) {
  // A starttime no real process of ours has: the file is this test's alone.
  TrackState st(getpid(), 987654321);
  unlink(st.path().c_str());
  EXPECT_FALSE(st.Last().has_value());
  ASSERT_TRUE(st.MarkResetting().ok());
  EXPECT_FALSE(st.Last().has_value()) << "in flux while resetting";
  const std::string d1 = "sha256:" + std::string(64, 'a');
  ASSERT_TRUE(st.SetLast({d1, 1023}).ok());
  auto last = TrackState(getpid(), 987654321).Last();  // as the next snapshot reads it
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(last->manifest_digest, d1);
  EXPECT_EQ(last->uffd_fd, 1023);
  // A shorter record over a longer one leaves nothing of the old one behind.
  ASSERT_TRUE(st.SetLast({"sha256:" + std::string(64, 'b'), 7}).ok());
  last = st.Last();
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(last->uffd_fd, 7);
  ASSERT_TRUE(st.MarkResetting().ok());
  EXPECT_FALSE(st.Last().has_value());
  struct stat sb;
  ASSERT_EQ(stat(st.path().c_str(), &sb), 0);
  EXPECT_EQ(sb.st_size, 128);
  unlink(st.path().c_str());
}

TEST(TrackState, FilesOfGoneProcessesAreRemoved) {
  pid_t gone = fork();
  if (gone == 0) _exit(0);
  ASSERT_GT(gone, 0);
  ASSERT_EQ(waitpid(gone, nullptr, 0), gone);
  TrackState mine(getpid(), 987654322);
  unlink(mine.path().c_str());
  ASSERT_TRUE(TrackState(getpid(), 987654323).MarkResetting().ok());  // makes the directory
  const std::string dead = Dir(mine.path()) + "/" + std::to_string(gone) + "-5";
  const std::string dead_tmp = dead + ".tmp";
  const std::string alive = Dir(mine.path()) + "/" + std::to_string(getpid()) + "-6";
  for (const std::string& f : {dead, dead_tmp, alive}) close(open(f.c_str(), O_WRONLY | O_CREAT, 0600));
  // The first write of a new state file sweeps the directory.
  ASSERT_TRUE(mine.MarkResetting().ok());
  EXPECT_NE(access(dead.c_str(), F_OK), 0) << "the file of a process that is gone stays";
  EXPECT_NE(access(dead_tmp.c_str(), F_OK), 0);
  EXPECT_EQ(access(alive.c_str(), F_OK), 0) << "the file of a live process was removed";
  for (const std::string& f : {alive, mine.path(), TrackState(getpid(), 987654323).path()}) unlink(f.c_str());
}

}  // namespace
}  // namespace clonebot::snapshot
