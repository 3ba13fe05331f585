/*
 * openloop: a light HTTP/1.1 load generator for the SLO benchmarks (bench/slo.sh).
 *
 * One thread, epoll, a pool of keep-alive connections, one request at a time per connection.
 *
 * Open loop (default): requests are due on a schedule (Poisson or constant arrivals at a rate, or
 * a list of rate:seconds segments run back to back as one continuous schedule). A due request
 * takes the first free connection; if none is free it waits in a FIFO backlog. Its latency is
 * measured from its *intended* send time, so a wait for a connection (or a client that falls
 * behind) is counted, never hidden (coordinated omission). A send more than 1 ms after its
 * intended time is counted as late: if many are, the client, not the server, was the bottleneck.
 *
 * Closed loop (--closed): every connection sends its next request when the previous one is
 * answered; latency from the actual send. For capacity.
 *
 * Output (JSON, --out or stdout): totals over the measured part (after --warmup seconds) and one
 * record per 1 s window of intended send time: sent, 2xx, refused (429 and 503), other 4xx, other
 * 5xx, connection errors / unanswered, late sends, p50/p99/p99.9 of admitted (2xx) latencies, p99
 * of refusals, and the fraction of sent requests answered 2xx within --slo-ms (refusals, errors
 * and unanswered requests are misses). Where a refusal's time went: its p99 also from the actual
 * send (the client's send lateness left out), and from the actual send to the kernel's receive
 * time of the answer (SO_TIMESTAMPNS; the client's read lateness left out too: the server's
 * share); the same server's share for the admitted (ok_p99_server_ms).
 *
 *   cc -O2 -o openloop openloop.c -lm
 *   openloop --url http://127.0.0.1:8000/v2/models/m/infer --body body.json \
 *            --rate 5000 --duration 20 --warmup 3 --slo-ms 10 --out run.json
 *   openloop ... --schedule 2500:10,7500:10      (one run: 10 s at 2,500/s then 10 s at 7,500/s)
 *   openloop ... --closed --connections 64 --duration 5 --warmup 2
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

/* ---- latency histogram: microseconds, exact below 256 us, then 256 steps per power of two ---- */
#define SUB_BITS 8
#define SUB (1 << SUB_BITS)
#define MAGS 30 /* up to 2^(30+8) us: far beyond any run */
#define HBUCKETS (SUB + MAGS * SUB)

typedef struct {
  uint32_t c[HBUCKETS];
  uint64_t n;
  uint64_t max_us;
} hist;

static int hidx(uint64_t us) {
  if (us < SUB) return (int)us;
  int msb = 63 - __builtin_clzll(us); /* >= SUB_BITS */
  int mag = msb - SUB_BITS + 1;
  if (mag > MAGS) return HBUCKETS - 1;
  int sub = (int)((us >> (msb - SUB_BITS)) & (SUB - 1));
  return SUB + (mag - 1) * SUB + sub;
}
static uint64_t hval(int i) { /* the upper end of bucket i, in us */
  if (i < SUB) return (uint64_t)i;
  int mag = (i - SUB) / SUB + 1, sub = (i - SUB) % SUB;
  int msb = mag + SUB_BITS - 1;
  return ((uint64_t)(SUB + sub) << (msb - SUB_BITS)) + ((1ull << (msb - SUB_BITS)) - 1);
}
static void hadd(hist *h, uint64_t us) {
  h->c[hidx(us)]++;
  h->n++;
  if (us > h->max_us) h->max_us = us;
}
static double hq(const hist *h, double q) { /* in ms; -1 when empty */
  if (h->n == 0) return -1;
  uint64_t rank = (uint64_t)ceil(q * (double)h->n);
  if (rank < 1) rank = 1;
  uint64_t seen = 0;
  for (int i = 0; i < HBUCKETS; i++) {
    seen += h->c[i];
    if (seen >= rank) {
      uint64_t v = hval(i);
      return (double)(v > h->max_us ? h->max_us : v) / 1000.0;
    }
  }
  return (double)h->max_us / 1000.0;
}

/* ---- per-window counts (by intended send time) ---- */
typedef struct {
  uint64_t sent, ok, refused, dropped, e4xx, e5xx, errors, late, within;
  hist *ok_h;  /* allocated lazily */
  hist *ref_h;
  /* where a refusal's time went (from --split): from the actual send (the client's send lateness
   * left out), and from the actual send to the answer's arrival in the client's kernel (its read
   * lateness left out too: the server's share plus loopback); refusals at arrival only (a late
   * drop's body says it was dropped from the queue: counted in `dropped`) */
  hist *ref_arr_h, *ref_sent_h, *ref_srv_h, *ok_srv_h;
} window;

/* ---- options ---- */
static char host[300] = "127.0.0.1", path[1024] = "/";
static int port = 80;
static int nconn = 256, closed_loop = 0, constant = 0;
static double duration = 10, warmup = 0, slo_ms = 0, drain_s = 10;
static double seg_rate[64], seg_secs[64];
static int nseg = 0;
static const char *body_file = NULL, *out_file = NULL, *ctype = "application/json";
static uint64_t seed = 88172645463325252ull;

static char *req_buf;
static size_t req_len;

/* CLOCK_REALTIME - CLOCK_MONOTONIC, ns, measured at the start: turns the kernel's receive
 * timestamps into the monotonic clock the rest of the run uses */
static int64_t realtime_offset;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
static double urand(void) { /* xorshift64*, (0,1] */
  seed ^= seed >> 12;
  seed ^= seed << 25;
  seed ^= seed >> 27;
  uint64_t r = seed * 2685821657736338717ull;
  return ((double)(r >> 11) + 1.0) / 9007199254740993.0;
}

/* ---- connections ---- */
typedef struct conn {
  int fd, busy, retried;
  uint64_t intended, sent_at;
  size_t woff;
  char *rbuf;
  size_t rlen, rcap;
  struct conn *next_free;
} conn;

static conn *conns;
static conn *free_list;
static int epfd;
static struct sockaddr_in addr;
static uint64_t connect_errors;

static int open_conn(conn *c) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  /* the kernel's receive time of what each read returns (CLOCK_REALTIME), for the split */
  setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
    close(fd);
    connect_errors++;
    return -1;
  }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  c->fd = fd;
  c->rlen = 0;
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
  epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
  return 0;
}
static void close_conn(conn *c) {
  if (c->fd >= 0) {
    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
  }
  c->fd = -1;
  c->busy = 0;
  c->rlen = 0;
}

/* ---- the run's state ---- */
static uint64_t t0, measure_from, sched_end;
static window *wins;
static int nwins;
static hist tot_ok, tot_ref, tot_ref_arr, tot_ref_sent, tot_ref_srv, tot_ok_srv;
static uint64_t tot_dropped;
static uint64_t tot_sent, tot_ok_n, tot_refused, tot_4xx, tot_5xx, tot_errors, tot_late, tot_within,
    tot_unanswered;
static uint64_t slo_us;
static uint64_t *backlog; /* intended send times due but not yet sent */
static size_t bl_head, bl_tail, bl_cap;
static uint64_t max_backlog;

static void bl_push(uint64_t t) {
  if (bl_tail - bl_head == bl_cap) {
    size_t ncap = bl_cap * 2;
    uint64_t *nb = malloc(ncap * sizeof *nb);
    for (size_t i = 0; i < bl_cap; i++) nb[i] = backlog[(bl_head + i) % bl_cap];
    free(backlog);
    backlog = nb;
    bl_tail = bl_cap;
    bl_head = 0;
    bl_cap = ncap;
  }
  backlog[bl_tail++ % bl_cap] = t;
  if (bl_tail - bl_head > max_backlog) max_backlog = bl_tail - bl_head;
}

static window *win_of(uint64_t intended) {
  int w = (int)((intended - t0) / 1000000000ull);
  if (w >= nwins) w = nwins - 1;
  return &wins[w];
}
static int measured(uint64_t intended) { return intended >= measure_from; }

static void hadd_lazy(hist **h, uint64_t us) {
  if (!*h) *h = calloc(1, sizeof(hist));
  hadd(*h, us);
}

/* outcome: 0 ok, 1 refused, 2 other 4xx, 3 other 5xx, 4 error/unanswered */
static void record(uint64_t intended, int status, uint64_t done);

/* An answer read at `done`: recorded as record() does, and its split by the actual send time
 * `sent` and the kernel's receive time `rx` of its last bytes (0: unknown). */
static void record_split(uint64_t intended, int status, uint64_t done, uint64_t sent, uint64_t rx,
                         int dropped) {
  record(intended, status, done);
  if (dropped) {
    win_of(intended)->dropped++;
    if (measured(intended)) tot_dropped++;
  }
  if (status <= 0 || sent == 0) return;
  window *w = win_of(intended);
  int m = measured(intended);
  uint64_t srv = rx > sent ? (rx - sent) / 1000 : 0;
  if (status >= 200 && status < 300) {
    if (rx) {
      hadd_lazy(&w->ok_srv_h, srv);
      if (m) hadd(&tot_ok_srv, srv);
    }
  } else if ((status == 429 || status == 503) && !dropped) {
    uint64_t from_intended = done > intended ? (done - intended) / 1000 : 0;
    hadd_lazy(&w->ref_arr_h, from_intended);
    if (m) hadd(&tot_ref_arr, from_intended);
    uint64_t from_send = done > sent ? (done - sent) / 1000 : 0;
    hadd_lazy(&w->ref_sent_h, from_send);
    if (m) hadd(&tot_ref_sent, from_send);
    if (rx) {
      hadd_lazy(&w->ref_srv_h, srv);
      if (m) hadd(&tot_ref_srv, srv);
    }
  }
}

static void record(uint64_t intended, int status, uint64_t done) {
  window *w = win_of(intended);
  uint64_t us = (done - intended) / 1000;
  int m = measured(intended);
  if (status >= 200 && status < 300) {
    w->ok++;
    if (!w->ok_h) w->ok_h = calloc(1, sizeof(hist));
    hadd(w->ok_h, us);
    int in = slo_us == 0 || us <= slo_us;
    if (in) w->within++;
    if (m) {
      tot_ok_n++;
      hadd(&tot_ok, us);
      if (in) tot_within++;
    }
  } else if (status == 429 || status == 503) {
    w->refused++;
    if (!w->ref_h) w->ref_h = calloc(1, sizeof(hist));
    hadd(w->ref_h, us);
    if (m) {
      tot_refused++;
      hadd(&tot_ref, us);
    }
  } else if (status >= 400 && status < 500) {
    w->e4xx++;
    if (m) tot_4xx++;
  } else if (status >= 500) {
    w->e5xx++;
    if (m) tot_5xx++;
  } else {
    w->errors++;
    if (m) tot_errors++;
  }
}

/* Writes the request on c; 0, or -1 when the connection failed (c is then closed, not busy). */
static int transmit(conn *c) {
  c->busy = 1;
  c->woff = 0;
  ssize_t n = write(c->fd, req_buf, req_len);
  if (n < 0 && errno != EAGAIN) {
    close_conn(c);
    return -1;
  }
  c->woff = n < 0 ? 0 : (size_t)n;
  if (c->woff < req_len) {
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
    epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
  }
  return 0;
}

/* A kept-alive connection the server closed while idle (its header or idle timeout) can fail the
 * request sent on it before any byte of an answer: that request is sent once more on a new
 * connection, from the same intended time. Returns 0 when it was. */
static int retry(conn *c) {
  if (c->retried) return -1;
  close_conn(c);
  if (open_conn(c) != 0) return -1;
  c->retried = 1;
  return transmit(c);
}

static void send_on(conn *c, uint64_t intended, uint64_t now) {
  c->intended = intended;
  c->sent_at = now;
  c->retried = 0;
  window *w = win_of(intended);
  w->sent++;
  if (measured(intended)) tot_sent++;
  if (now > intended + 1000000ull) {
    w->late++;
    if (measured(intended)) tot_late++;
  }
  if (transmit(c) == 0) return;
  if (retry(c) == 0) return;
  record(intended, -1, now);
  close_conn(c);
}


static conn *take_free(void) {
  while (free_list) {
    conn *c = free_list;
    free_list = c->next_free;
    if (c->fd < 0 && open_conn(c) != 0) {
      c->next_free = NULL; /* left out of the pool: the server refused a connection */
      continue;
    }
    return c;
  }
  return NULL;
}
static void give_back(conn *c) {
  c->busy = 0;
  c->next_free = free_list;
  free_list = c;
}

/* Parses one whole response in c->rbuf: returns its status (>0), 0 if incomplete, -1 if malformed;
 * *close_after is set when the server said Connection: close. */
static int parse_response(conn *c, int *close_after, int *dropped) {
  char *buf = c->rbuf;
  size_t len = c->rlen;
  char *end = memmem(buf, len, "\r\n\r\n", 4);
  if (!end) return len > 65536 ? -1 : 0;
  size_t hlen = (size_t)(end - buf) + 4;
  if (len < 12 || memcmp(buf, "HTTP/1.", 7) != 0) return -1;
  int status = atoi(buf + 9);
  long clen = 0;
  *close_after = 0;
  for (char *p = memchr(buf, '\n', hlen); p && p < end; p = memchr(p + 1, '\n', (size_t)(end - p))) {
    char *h = p + 1;
    if (strncasecmp(h, "content-length:", 15) == 0) clen = strtol(h + 15, NULL, 10);
    else if (strncasecmp(h, "connection:", 11) == 0) {
      char *v = h + 11;
      while (*v == ' ') v++;
      if (strncasecmp(v, "close", 5) == 0) *close_after = 1;
    } else if (strncasecmp(h, "transfer-encoding:", 18) == 0) return -1; /* not used by Fulcrum */
  }
  if (len < hlen + (size_t)clen) return 0;
  size_t used = hlen + (size_t)clen;
  /* Fulcrum's refusal of a request it had admitted, then dropped from its queue when its deadline
   * became unreachable (a late drop), says so in its body; a refusal at arrival does not */
  *dropped = (status == 429 || status == 503) && clen > 0 &&
             memmem(buf + hlen, (size_t)clen, "dropped from the queue", 22) != NULL;
  memmove(buf, buf + used, len - used);
  c->rlen = len - used;
  return status;
}

static void usage(void) {
  fprintf(stderr,
          "usage: openloop --url http://host:port/path [--body FILE] [--content-type T]\n"
          "  [--rate R --duration S | --schedule R1:S1,R2:S2,...] [--constant] [--closed]\n"
          "  [--connections N] [--warmup S] [--slo-ms MS] [--drain S] [--seed N] [--out FILE]\n");
  exit(2);
}

static void parse_url(const char *url) {
  const char *p = url;
  if (strncmp(p, "http://", 7) == 0) p += 7;
  const char *slash = strchr(p, '/');
  size_t hl = slash ? (size_t)(slash - p) : strlen(p);
  char hp[300];
  if (hl >= sizeof hp) usage();
  memcpy(hp, p, hl);
  hp[hl] = 0;
  char *colon = strchr(hp, ':');
  if (colon) {
    *colon = 0;
    port = atoi(colon + 1);
  }
  snprintf(host, sizeof host, "%s", hp);
  snprintf(path, sizeof path, "%s", slash ? slash : "/");
}

static void parse_schedule(const char *s) {
  char *copy = strdup(s), *save = NULL;
  for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    if (nseg == 64) usage();
    if (sscanf(tok, "%lf:%lf", &seg_rate[nseg], &seg_secs[nseg]) != 2) usage();
    nseg++;
  }
  free(copy);
}

/* The arrival schedule: the next intended time after t (ns since t0), or UINT64_MAX at the end. */
static int cur_seg = 0;
static uint64_t seg_start_ns = 0;
static uint64_t next_arrival(uint64_t t) {
  for (;;) {
    if (cur_seg >= nseg) return UINT64_MAX;
    uint64_t seg_end = seg_start_ns + (uint64_t)(seg_secs[cur_seg] * 1e9);
    double rate = seg_rate[cur_seg];
    if (rate > 0) {
      double gap = constant ? 1.0 / rate : -log(urand()) / rate;
      uint64_t next = t + (uint64_t)(gap * 1e9);
      if (next < seg_end) return next;
    }
    /* memoryless: restart the draws at the boundary with the next segment's rate */
    t = seg_end;
    seg_start_ns = seg_end;
    cur_seg++;
  }
}

static void json_window(FILE *f, int i, const window *w, int last) {
  hist empty = {0};
  const hist *ok = w->ok_h ? w->ok_h : &empty, *rf = w->ref_h ? w->ref_h : &empty;
  fprintf(f,
          "    {\"second\": %d, \"warmup\": %s, \"sent\": %llu, \"ok\": %llu, \"refused\": %llu,"
          " \"refused_dropped\": %llu,"
          " \"other_4xx\": %llu, \"other_5xx\": %llu, \"errors\": %llu, \"late_sends\": %llu,"
          " \"within_slo\": %llu, \"ok_p50_ms\": %.3f, \"ok_p99_ms\": %.3f, \"ok_p999_ms\": %.3f,"
          " \"ok_max_ms\": %.3f, \"refused_p99_ms\": %.3f, \"arrival_refused_p99_ms\": %.3f,"
          " \"arrival_refused_p99_from_send_ms\": %.3f, \"arrival_refused_p99_server_ms\": %.3f, \"ok_p99_server_ms\": %.3f}%s\n",
          i, (uint64_t)i * 1000000000ull + t0 < measure_from ? "true" : "false",
          (unsigned long long)w->sent, (unsigned long long)w->ok, (unsigned long long)w->refused,
          (unsigned long long)w->dropped,
          (unsigned long long)w->e4xx, (unsigned long long)w->e5xx, (unsigned long long)w->errors,
          (unsigned long long)w->late, (unsigned long long)w->within, hq(ok, 0.5), hq(ok, 0.99),
          hq(ok, 0.999), ok->n ? ok->max_us / 1000.0 : -1.0, hq(rf, 0.99),
          hq(w->ref_arr_h ? w->ref_arr_h : &empty, 0.99),
          hq(w->ref_sent_h ? w->ref_sent_h : &empty, 0.99),
          hq(w->ref_srv_h ? w->ref_srv_h : &empty, 0.99),
          hq(w->ok_srv_h ? w->ok_srv_h : &empty, 0.99), last ? "" : ",");
}

int main(int argc, char **argv) {
  double rate = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
#define ARG() (i + 1 < argc ? argv[++i] : (usage(), ""))
    if (!strcmp(a, "--url")) parse_url(ARG());
    else if (!strcmp(a, "--body")) body_file = ARG();
    else if (!strcmp(a, "--content-type")) ctype = ARG();
    else if (!strcmp(a, "--rate")) rate = atof(ARG());
    else if (!strcmp(a, "--duration")) duration = atof(ARG());
    else if (!strcmp(a, "--schedule")) parse_schedule(ARG());
    else if (!strcmp(a, "--constant")) constant = 1;
    else if (!strcmp(a, "--closed")) closed_loop = 1;
    else if (!strcmp(a, "--connections") || !strcmp(a, "-c")) nconn = atoi(ARG());
    else if (!strcmp(a, "--warmup")) warmup = atof(ARG());
    else if (!strcmp(a, "--slo-ms")) slo_ms = atof(ARG());
    else if (!strcmp(a, "--drain")) drain_s = atof(ARG());
    else if (!strcmp(a, "--seed")) seed = strtoull(ARG(), NULL, 10) | 1;
    else if (!strcmp(a, "--out")) out_file = ARG();
    else usage();
  }
  if (nconn < 1) usage();
  if (!closed_loop && nseg == 0) {
    if (rate <= 0) usage();
    seg_rate[0] = rate;
    seg_secs[0] = duration;
    nseg = 1;
  }
  double total_s = 0;
  if (closed_loop) total_s = duration;
  else
    for (int i = 0; i < nseg; i++) total_s += seg_secs[i];
  if (warmup >= total_s) usage();
  slo_us = (uint64_t)(slo_ms * 1000);
  signal(SIGPIPE, SIG_IGN);

  /* the request, built once */
  char *body = NULL;
  size_t blen = 0;
  if (body_file) {
    FILE *f = fopen(body_file, "rb");
    if (!f) { perror(body_file); return 2; }
    fseek(f, 0, SEEK_END);
    blen = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    body = malloc(blen + 1);
    if (fread(body, 1, blen, f) != blen) { perror(body_file); return 2; }
    fclose(f);
  }
  req_buf = malloc(blen + 2048);
  int hl = snprintf(req_buf, 2048,
                    "%s %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: %s\r\nContent-Length: %zu\r\n\r\n",
                    body ? "POST" : "GET", path, host, port, ctype, blen);
  if (body) memcpy(req_buf + hl, body, blen);
  req_len = (size_t)hl + blen;

  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
    if (!strcmp(host, "localhost")) inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    else { fprintf(stderr, "host must be an IPv4 address: %s\n", host); return 2; }
  }

  epfd = epoll_create1(EPOLL_CLOEXEC);
  int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  struct epoll_event tev = {.events = EPOLLIN, .data.ptr = NULL};
  epoll_ctl(epfd, EPOLL_CTL_ADD, tfd, &tev);

  /* Connections open when first needed (the free list is LIFO, so a low rate keeps few busy and
   * the server's header timeout never closes one that was opened long before its first request). */
  conns = calloc((size_t)nconn, sizeof *conns);
  for (int i = nconn - 1; i >= 0; i--) {
    conns[i].fd = -1;
    conns[i].rcap = 65536 + 4096;
    conns[i].rbuf = malloc(conns[i].rcap);
    give_back(&conns[i]);
  }
  if (open_conn(&conns[0]) != 0) {
    fprintf(stderr, "cannot connect to %s:%d: %s\n", host, port, strerror(errno));
    return 1;
  }

  nwins = (int)ceil(total_s) + 1;
  wins = calloc((size_t)nwins, sizeof *wins);
  bl_cap = 1 << 16;
  backlog = malloc(bl_cap * sizeof *backlog);

  {
    struct timespec rt;
    clock_gettime(CLOCK_REALTIME, &rt);
    uint64_t mono = now_ns();
    realtime_offset = (int64_t)rt.tv_sec * 1000000000ll + rt.tv_nsec - (int64_t)mono;
  }
  t0 = now_ns();
  measure_from = t0 + (uint64_t)(warmup * 1e9);
  sched_end = t0 + (uint64_t)(total_s * 1e9);
  uint64_t next = closed_loop ? UINT64_MAX : t0 + (next_arrival(0));
  uint64_t hard_end = sched_end + (uint64_t)(drain_s * 1e9);
  int in_flight = 0;
  struct epoll_event evs[256];

  if (closed_loop) {
    uint64_t n0 = now_ns();
    conn *c;
    while ((c = take_free())) {
      send_on(c, n0, n0);
      if (c->busy) in_flight++;
    }
  }

  for (;;) {
    uint64_t now = now_ns();
    /* due arrivals join the backlog */
    while (next != UINT64_MAX && next <= now) {
      bl_push(next);
      uint64_t rel = next_arrival(next - t0);
      next = rel == UINT64_MAX ? UINT64_MAX : t0 + rel;
    }
    /* the backlog takes free connections, oldest first */
    while (bl_head < bl_tail) {
      conn *c = take_free();
      if (!c) break;
      uint64_t it = backlog[bl_head++ % bl_cap];
      send_on(c, it, now);
      if (c->busy) in_flight++;
      else give_back(c);
    }
    int done_sched = closed_loop ? now >= sched_end : (next == UINT64_MAX && bl_head == bl_tail);
    if (done_sched && (closed_loop || in_flight == 0)) break;
    if (now >= hard_end) break;
    if (!closed_loop && next == UINT64_MAX && bl_head < bl_tail && free_list == NULL && in_flight == 0)
      break; /* nothing can be sent any more: every connection was refused */

    int timeout_ms = 100;
    if (next != UINT64_MAX) {
      struct itimerspec its = {0};
      its.it_value.tv_sec = (time_t)(next / 1000000000ull);
      its.it_value.tv_nsec = (long)(next % 1000000000ull);
      timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
      timeout_ms = -1;
      if (next > now + 100000000ull) timeout_ms = 100;
    }
    int n = epoll_wait(epfd, evs, 256, timeout_ms);
    if (n < 0 && errno != EINTR) { perror("epoll_wait"); return 1; }
    uint64_t at = now_ns();
    for (int k = 0; k < n; k++) {
      conn *c = evs[k].data.ptr;
      if (!c) {
        uint64_t exp;
        if (read(tfd, &exp, sizeof exp) < 0) { /* spurious: fine */ }
        continue;
      }
      if (evs[k].events & EPOLLOUT && c->busy && c->woff < req_len) {
        ssize_t w = write(c->fd, req_buf + c->woff, req_len - c->woff);
        if (w > 0) c->woff += (size_t)w;
        if (c->woff == req_len) {
          struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
          epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
        }
      }
      if (!(evs[k].events & (EPOLLIN | EPOLLERR | EPOLLHUP))) continue;
      for (;;) {
        if (c->rcap - c->rlen < 4096) {
          c->rcap *= 2;
          c->rbuf = realloc(c->rbuf, c->rcap);
        }
        struct iovec iov = {.iov_base = c->rbuf + c->rlen, .iov_len = c->rcap - c->rlen};
        char cbuf[CMSG_SPACE(sizeof(struct timespec)) + 64];
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
                            .msg_controllen = sizeof cbuf};
        ssize_t r = recvmsg(c->fd, &mh, 0);
        if (r > 0) {
          c->rlen += (size_t)r;
          uint64_t rx = 0;
          for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
            if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_TIMESTAMPNS) {
              struct timespec ts;
              memcpy(&ts, CMSG_DATA(cm), sizeof ts);
              int64_t rt = (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
              if (rt > realtime_offset) rx = (uint64_t)(rt - realtime_offset);
            }
          int close_after = 0, dropped = 0;
          int st = parse_response(c, &close_after, &dropped);
          if (st == 0) continue;
          if (!c->busy) { close_conn(c); break; }
          uint64_t from = closed_loop ? c->sent_at : c->intended;
          record_split(from, st > 0 ? st : -1, at, closed_loop ? 0 : c->sent_at, rx, dropped);
          in_flight--;
          if (st < 0 || close_after) close_conn(c);
          if (closed_loop && at < sched_end) {
            c->busy = 0;
            if (c->fd < 0 && open_conn(c) != 0) break;
            send_on(c, at, at);
            if (c->busy) in_flight++;
            else give_back(c);
          } else {
            give_back(c);
          }
          break;
        }
        if (r < 0 && (errno == EAGAIN || errno == EINTR)) break;
        /* closed by the server, or an error */
        int was_busy = c->busy;
        if (was_busy && c->rlen == 0 && retry(c) == 0) break;
        if (was_busy) {
          record(closed_loop ? c->sent_at : c->intended, -1, at);
          in_flight--;
          close_conn(c);
          give_back(c);
        } else {
          close_conn(c); /* an idle connection closed: reopened when taken */
        }
        break;
      }
    }
  }
  uint64_t t_end = now_ns();

  /* what is still in flight, or never sent, is unanswered: a miss */
  for (int i = 0; !closed_loop && i < nconn; i++)
    if (conns[i].busy) {
      record(closed_loop ? conns[i].sent_at : conns[i].intended, -1, t_end);
      if (measured(conns[i].intended)) tot_unanswered++;
    }
  while (bl_head < bl_tail) {
    uint64_t it = backlog[bl_head++ % bl_cap];
    win_of(it)->sent++;
    if (measured(it)) tot_sent++;
    record(it, -1, t_end);
    if (measured(it)) tot_unanswered++;
  }

  double measured_s = closed_loop ? (double)(t_end - measure_from) / 1e9 : total_s - warmup;
  if (closed_loop && t_end > sched_end) measured_s = (double)(sched_end - measure_from) / 1e9;
  FILE *f = out_file ? fopen(out_file, "w") : stdout;
  if (!f) { perror(out_file); return 2; }
  fprintf(f, "{\n  \"mode\": \"%s\",\n  \"connections\": %d,\n  \"schedule\": [", closed_loop ? "closed" : (constant ? "constant" : "poisson"), nconn);
  for (int i = 0; !closed_loop && i < nseg; i++)
    fprintf(f, "%s{\"rate\": %.1f, \"seconds\": %.3f}", i ? ", " : "", seg_rate[i], seg_secs[i]);
  fprintf(f, "],\n  \"warmup_s\": %.3f,\n  \"measured_s\": %.3f,\n  \"slo_ms\": %.3f,\n", warmup, measured_s, slo_ms);
  fprintf(f,
          "  \"sent\": %llu,\n  \"ok\": %llu,\n  \"refused\": %llu,\n  \"refused_dropped\": %llu,\n"
          "  \"other_4xx\": %llu,\n"
          "  \"other_5xx\": %llu,\n  \"errors\": %llu,\n  \"unanswered\": %llu,\n  \"late_sends\": %llu,\n"
          "  \"late_fraction\": %.6f,\n  \"max_backlog\": %llu,\n  \"connect_errors\": %llu,\n",
          (unsigned long long)tot_sent, (unsigned long long)tot_ok_n, (unsigned long long)tot_refused,
          (unsigned long long)tot_dropped, (unsigned long long)tot_4xx, (unsigned long long)tot_5xx, (unsigned long long)tot_errors,
          (unsigned long long)tot_unanswered, (unsigned long long)tot_late,
          tot_sent ? (double)tot_late / (double)tot_sent : 0.0, (unsigned long long)max_backlog,
          (unsigned long long)connect_errors);
  fprintf(f,
          "  \"sent_per_second\": %.1f,\n  \"ok_per_second\": %.1f,\n  \"ok_p50_ms\": %.3f,\n"
          "  \"ok_p90_ms\": %.3f,\n  \"ok_p99_ms\": %.3f,\n  \"ok_p999_ms\": %.3f,\n  \"ok_max_ms\": %.3f,\n"
          "  \"refused_p99_ms\": %.3f,\n  \"arrival_refused_p99_ms\": %.3f,\n"
          "  \"arrival_refused_p99_from_send_ms\": %.3f,\n  \"arrival_refused_p99_server_ms\": %.3f,\n  \"ok_p99_server_ms\": %.3f,\n"
          "  \"within_slo\": %llu,\n  \"within_slo_fraction\": %.6f,\n",
          tot_sent / measured_s, tot_ok_n / measured_s, hq(&tot_ok, 0.5), hq(&tot_ok, 0.9),
          hq(&tot_ok, 0.99), hq(&tot_ok, 0.999), tot_ok.n ? tot_ok.max_us / 1000.0 : -1.0,
          hq(&tot_ref, 0.99), hq(&tot_ref_arr, 0.99), hq(&tot_ref_sent, 0.99), hq(&tot_ref_srv, 0.99), hq(&tot_ok_srv, 0.99),
          (unsigned long long)tot_within,
          tot_sent ? (double)tot_within / (double)tot_sent : 0.0);
  fprintf(f, "  \"windows\": [\n");
  int last = (int)ceil(total_s) - 1;
  if (last >= nwins) last = nwins - 1;
  for (int i = 0; i <= last; i++) json_window(f, i, &wins[i], i == last);
  fprintf(f, "  ]\n}\n");
  if (f != stdout) fclose(f);
  fprintf(stderr,
          "openloop: %s %.1f s measured: sent %llu (%.0f/s), ok %llu (%.0f/s), refused %llu, errors %llu,"
          " unanswered %llu, late %.2f%%; ok p50 %.2f p99 %.2f p99.9 %.2f ms; within %.1f ms %.4f\n",
          closed_loop ? "closed" : "open", measured_s, (unsigned long long)tot_sent, tot_sent / measured_s,
          (unsigned long long)tot_ok_n, tot_ok_n / measured_s, (unsigned long long)tot_refused,
          (unsigned long long)(tot_errors + tot_4xx + tot_5xx), (unsigned long long)tot_unanswered,
          tot_sent ? 100.0 * tot_late / tot_sent : 0.0, hq(&tot_ok, 0.5), hq(&tot_ok, 0.99),
          hq(&tot_ok, 0.999), slo_ms, tot_sent ? (double)tot_within / tot_sent : 0.0);
  return 0;
}
