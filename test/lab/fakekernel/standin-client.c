/*
 * The lab's stand-in launcher (installed by hostbin.ts as every stand-in in a lab host's /usr/local/bin
 * and /usr/local/sbin; the Python stand-ins themselves live in /usr/local/lib/lab/py/{bin,sbin}).
 *
 * A call costs a Python interpreter start (30-80 ms of CPU on this machine) when the stand-in runs as its
 * own process. This launcher instead hands the call to the host's stand-in daemon
 * (/usr/local/lib/lab/labd.py, started by host-init.py, socket /run/lab/standins.sock, or
 * $LAB_STANDINS_SOCK): its argv, cwd,
 * umask, environment and its stdin/stdout/stderr (passed as file descriptors, SCM_RIGHTS). The daemon
 * either runs the stand-in in its already-warm interpreter and answers with the exit status, or answers
 * "run it yourself"; then, and whenever there is no daemon or the caller is not root, this process
 * execs the Python stand-in (same pid: a stand-in call is one process either way).
 *
 * Reply: 'X' + 4-byte exit status; 'E' = exec the stand-in; 'R' + NUL-separated path, then argv =
 * exec that program (a stand-in that hands over to the real tool: uname --help, ethtool on a veth).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define SOCK "/run/lab/standins.sock"

extern char **environ;
static char script[PATH_MAX];

static void run_script(char **argv) {
  argv[0] = script;
  execv(script, argv);
  fprintf(stderr, "lab stand-in: cannot run %s: %s\n", script, strerror(errno));
  exit(127);
}

/* growable buffer of NUL-terminated strings */
static char *buf;
static size_t len, cap;
static void put(const char *s) {
  size_t n = strlen(s) + 1;
  if (len + n > cap) {
    cap = (len + n) * 2 + 4096;
    buf = realloc(buf, cap);
    if (!buf) exit(127);
  }
  memcpy(buf + len, s, n);
  len += n;
}

static int full_write(int fd, const void *p, size_t n) {
  const char *c = p;
  while (n > 0) {
    ssize_t w = write(fd, c, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    c += w;
    n -= (size_t)w;
  }
  return 0;
}

int main(int argc, char **argv) {
  (void)argc;
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) {
    fprintf(stderr, "lab stand-in: cannot read /proc/self/exe\n");
    return 127;
  }
  exe[n] = 0;
  /* /usr/local/bin/NAME -> /usr/local/lib/lab/py/bin/NAME */
  char *name = strrchr(exe, '/');
  *name++ = 0;
  char *part = strrchr(exe, '/');
  if (!part) return 127;
  *part++ = 0;
  if (snprintf(script, sizeof script, "%s/lib/lab/py/%s/%s", exe, part, name) >= (int)sizeof script) return 127;

  if (geteuid() != 0) run_script(argv);
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  const char *path = getenv("LAB_STANDINS_SOCK"); /* test hook (hostbin.test.ts) */
  if (!path || !*path) path = SOCK;
  if (strlen(path) >= sizeof sa.sun_path) run_script(argv);
  strcpy(sa.sun_path, path);
  if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof sa) != 0) run_script(argv);
  for (int fd = 0; fd < 3; fd++)
    if (fcntl(fd, F_GETFD) < 0) run_script(argv); /* a closed stdio: keep the real semantics */

  char cwd[PATH_MAX];
  if (!getcwd(cwd, sizeof cwd)) run_script(argv);
  mode_t um = umask(0);
  umask(um);
  char num[32];
  put(name);
  put(script);
  put(cwd);
  snprintf(num, sizeof num, "%o", (unsigned)um);
  put(num);
  int ac = 0;
  while (argv[ac]) ac++;
  snprintf(num, sizeof num, "%d", ac - 1);
  put(num);
  for (int i = 1; i < ac; i++) put(argv[i]);
  for (char **e = environ; *e; e++) put(*e);

  uint32_t total = (uint32_t)len;
  int fds[3] = {0, 1, 2};
  char ctl[CMSG_SPACE(sizeof fds)];
  memset(ctl, 0, sizeof ctl);
  struct iovec iov = {.iov_base = &total, .iov_len = sizeof total};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl};
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof fds);
  memcpy(CMSG_DATA(c), fds, sizeof fds);
  if (sendmsg(s, &msg, 0) != (ssize_t)sizeof total || full_write(s, buf, len) != 0) run_script(argv);

  /* the reply: read to EOF */
  len = 0;
  for (;;) {
    if (len + 4096 > cap) {
      cap = cap * 2 + 8192;
      buf = realloc(buf, cap);
      if (!buf) exit(127);
    }
    ssize_t r = read(s, buf + len, cap - len);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    len += (size_t)r;
  }
  if (len >= 5 && buf[0] == 'X') {
    int32_t code;
    memcpy(&code, buf + 1, sizeof code);
    return code;
  }
  if (len >= 2 && buf[0] == 'R') {
    /* exec the program the stand-in handed over to, with these args */
    char *args[4096];
    int k = 0;
    for (size_t i = 1; i < len && k < 4095; i += strlen(buf + i) + 1) args[k++] = buf + i;
    args[k] = NULL;
    if (k > 1) {
      execv(args[0], args + 1);
      fprintf(stderr, "%s: %s\n", args[0], strerror(errno));
      return 127;
    }
  }
  /* 'E', or no answer (the daemon is gone): the stand-in runs as its own process */
  close(s);
  run_script(argv);
  return 127;
}
