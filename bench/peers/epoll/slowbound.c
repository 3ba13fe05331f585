// The bound for issue #14's slowloris number (docs/PERFORMANCE.md, "Hostile clients", session 21):
// the least a server must do to answer a new client's request while 20,000 connections send a
// request head one byte a second. One thread (or --threads N, each with a listening socket of its
// own, SO_REUSEPORT) in an epoll loop: accept4 (up to 64 a wakeup), read what is there, answer a complete
// request at once, close a connection whose first head is not complete 10 s after its accept. No
// connection cap (the descriptors are raised by hostile.sh), no inference: the fraud POST is
// answered with a fixed body of the real answer's shape (the fraud model's run is ~0.1 ms).
// HTTP/1.1 keep-alive, Content-Length bodies only; not a server anyone should run.
//
//   cc -O2 -o slowbound slowbound.c -lpthread
//   ./slowbound --port 8000 [--threads 1] [--backlog 1024] [--header-timeout 10]
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BUF 8192

static const char FRAUD[] =
    "{\"model_name\":\"fraud_classifier\",\"outputs\":[{\"name\":\"probabilities\","
    "\"datatype\":\"FP32\",\"shape\":[1,2],\"data\":[0.25,0.75]},{\"name\":\"label\","
    "\"datatype\":\"INT64\",\"shape\":[1],\"data\":[1]}]}";

struct conn {
  int fd;
  int len;
  int head_done;       // its first request head arrived: no header timeout any more
  int64_t deadline;    // ms, monotonic
  struct conn *prev, *next;  // the header-timeout list, in accept order (deadlines ascending)
  char buf[BUF];
};

struct worker {
  int listen_fd;
  int ep;
  struct conn *head, *tail;
  long accepted, answered, timed_out;
};

static int port = 8000, threads = 1, backlog = 1024, header_timeout_ms = 10000;

static int64_t now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void unlink_conn(struct worker *w, struct conn *c) {
  if (c->prev) c->prev->next = c->next; else if (w->head == c) w->head = c->next;
  if (c->next) c->next->prev = c->prev; else if (w->tail == c) w->tail = c->prev;
  c->prev = c->next = NULL;
}

static void close_conn(struct worker *w, struct conn *c) {
  if (!c->head_done) unlink_conn(w, c);
  close(c->fd);  // closing the descriptor removes it from the epoll set
  free(c);
}

static int listener(void) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (threads > 1) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (bind(fd, (struct sockaddr *)&a, sizeof a) || listen(fd, backlog)) {
    perror("bind/listen");
    exit(1);
  }
  return fd;
}

// Answers every complete request in c's buffer; returns -1 when the connection is to be closed.
static int serve(struct worker *w, struct conn *c) {
  for (;;) {
    char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
    if (!end) return c->len >= BUF ? -1 : 0;
    int head_len = end - c->buf + 4;
    long body = 0;
    int close_after = 0;
    for (char *line = memchr(c->buf, '\n', head_len); line && line < end;
         line = memchr(line + 1, '\n', end - line)) {
      if (!strncasecmp(line + 1, "content-length:", 15)) body = strtol(line + 16, NULL, 10);
      if (!strncasecmp(line + 1, "connection: close", 17)) close_after = 1;
    }
    if (head_len + body > BUF) return -1;
    if (c->len < head_len + body) return 0;  // the body is still arriving
    if (!c->head_done) {
      c->head_done = 1;
      unlink_conn(w, c);
    }
    int post = !strncmp(c->buf, "POST ", 5);
    const char *payload = post ? FRAUD : "";
    char out[1024];
    int n = snprintf(out, sizeof out,
                     "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %zu"
                     "\r\n%s\r\n%s",
                     strlen(payload), close_after ? "connection: close\r\n" : "", payload);
    if (write(c->fd, out, n) != n) return -1;  // small answers: one write, or give up
    w->answered++;
    if (close_after) return -1;
    memmove(c->buf, c->buf + head_len + body, c->len - head_len - body);
    c->len -= head_len + body;
  }
}

static void *run(void *arg) {
  struct worker *w = arg;
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
  epoll_ctl(w->ep, EPOLL_CTL_ADD, w->listen_fd, &ev);
  struct epoll_event evs[512];
  for (;;) {
    int64_t t = now_ms();
    int wait = w->head ? (int)(w->head->deadline - t) : 1000;
    if (wait < 0) wait = 0;
    int n = epoll_wait(w->ep, evs, 512, wait > 1000 ? 1000 : wait);
    for (int i = 0; i < n; i++) {
      struct conn *c = evs[i].data.ptr;
      if (!c) {  // the listening socket (level-triggered): up to 64 connections a wakeup, so that a
                 // storm of connects never starves the connections already open
        for (int k = 0; k < 64; k++) {
          int fd = accept4(w->listen_fd, NULL, NULL, SOCK_NONBLOCK);
          if (fd < 0) break;
          int one = 1;
          setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          struct conn *nc = calloc(1, sizeof *nc);
          nc->fd = fd;
          nc->deadline = now_ms() + header_timeout_ms;
          nc->prev = w->tail;
          if (w->tail) w->tail->next = nc; else w->head = nc;
          w->tail = nc;
          struct epoll_event ce = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = nc};
          epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ce);
          w->accepted++;
        }
        continue;
      }
      int closed = 0;
      for (;;) {
        ssize_t r = read(c->fd, c->buf + c->len, BUF - c->len);
        if (r > 0) {
          c->len += r;
          if (c->len < BUF) continue;
        } else if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
          break;
        } else if (r == 0 || r < 0) {
          closed = 1;
          break;
        }
        break;
      }
      if (closed || serve(w, c) < 0) close_conn(w, c);
    }
    int64_t now = now_ms();
    while (w->head && w->head->deadline <= now) {
      w->timed_out++;
      close_conn(w, w->head);
    }
  }
  return NULL;
}

int main(int argc, char **argv) {
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--port")) port = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--backlog")) backlog = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--header-timeout")) header_timeout_ms = atoi(argv[i + 1]) * 1000;
    else { fprintf(stderr, "unknown flag %s\n", argv[i]); return 2; }
  }
  pthread_t t[64];
  for (int i = 0; i < threads && i < 64; i++) {
    struct worker *w = calloc(1, sizeof *w);
    w->listen_fd = listener();
    w->ep = epoll_create1(0);
    pthread_create(&t[i], NULL, run, w);
  }
  fprintf(stderr, "slowbound listening on 127.0.0.1:%d (%d thread(s), backlog %d, header timeout"
          " %d ms)\n", port, threads, backlog, header_timeout_ms);
  for (int i = 0; i < threads && i < 64; i++) pthread_join(t[i], NULL);
  return 0;
}
