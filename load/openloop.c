/* openloop: an open-loop HTTP/1.1 load generator for load/overload.py (compiled by it with gcc).

   Request i is due at start + i / rate, whatever the answers do (no coordinated omission): it goes out
   on an idle keep-alive connection of a fixed pool, or waits in a client-side queue until one is free.
   Its latency counts from its due time, so a queue that grows shows as latency. A request not answered
   TIMEOUT seconds after its due time is a timeout (its connection is closed and opened again; a queued
   one is dropped). A request whose kept-alive connection the server closed before answering a byte (its
   idle timeout, racing the reuse) is sent again on another connection, as HTTP clients do; a connection
   closed in the middle of an answer is "broken". One thread, epoll, one request at a time per
   connection; Linux only.

   usage: openloop HOST PORT PATH HEADER RATE SECONDS CONNS TIMEOUT
   prints one JSON object: what was sent, the answers by status, timeouts, broken connections, the
   latencies of the 200s (ms), and how late the generator itself sent requests that had a free
   connection (its own lag: large means the generator, not the server, was the limit). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    int fd, connected, idle_listed;
    double due;      /* the outstanding request's due time; < 0: idle */
    char buf[65536]; /* an answer's head; its body is counted off, not kept (an image can be bigger) */
    size_t len, body_left;
    int status, in_body;
} Conn;

static struct sockaddr_in addr;
static char request[4096];
static size_t request_len;
static Conn *conns, **idle;               /* the pool; a stack of its idle connections */
static int nconns, nidle, ep;
static double *queue, *lat200, *lag;     /* queued due times; latencies of 200s; own send lag */
static double *stale;                    /* due times of requests to send again (see readable) */
static long qhead, qtail, nstale, n200, nlag, sent, resent, timeouts, broken, status_count[600];

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void open_conn(Conn *c) {
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->connected = 0; /* idle_listed stays: a reopened connection may still be on the idle stack */
    c->due = -1;
    c->len = c->body_left = 0;
    c->in_body = 0;
    if (connect(c->fd, (struct sockaddr *)&addr, sizeof addr) < 0 && errno != EINPROGRESS) {
        perror("connect");
        exit(2);
    }
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
}

static void reopen(Conn *c) {
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    open_conn(c);
}

static void send_on(Conn *c, double due) {
    c->due = due;
    sent++;
    if (write(c->fd, request, request_len) != (ssize_t)request_len) { /* one small request: it fits or fails */
        broken++;
        reopen(c);
    }
}

static void now_idle(Conn *c) {
    if (!c->idle_listed) {
        c->idle_listed = 1;
        idle[nidle++] = c;
    }
}

static Conn *idle_conn(void) {
    while (nidle > 0) {
        Conn *c = idle[--nidle];
        c->idle_listed = 0;
        if (c->connected && c->due < 0) return c; /* else it was reopened since it was listed */
    }
    return NULL;
}

static void dispatch_queue(void) {
    Conn *c;
    while (nstale > 0 && (c = idle_conn()) != NULL) {
        resent++;
        sent--; /* send_on counts it again */
        send_on(c, stale[--nstale]);
    }
    while (qhead < qtail && (c = idle_conn()) != NULL) send_on(c, queue[qhead++]);
}

/* The head of an answer at the start of c->buf: its status and body length; 0 when not all here yet. */
static size_t parse_head(Conn *c) {
    char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
    if (end == NULL) return 0;
    c->status = atoi(c->buf + 9);
    c->body_left = 0;
    for (char *p = c->buf; p < end; p++) {
        if ((p == c->buf || p[-1] == '\n') && strncasecmp(p, "content-length:", 15) == 0) {
            c->body_left = strtoul(p + 15, NULL, 10);
            break;
        }
    }
    return end - c->buf + 4;
}

static void drop(Conn *c, size_t n) {
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
}

static void answered(Conn *c, double t, double timeout) {
    if (c->due < 0) return;
    double latency = t - c->due;
    if (latency > timeout) timeouts++;
    else {
        if (c->status > 0 && c->status < 600) status_count[c->status]++;
        if (c->status == 200) lat200[n200++] = latency * 1000;
    }
    c->due = -1;
}

/* Take whole answers off the buffer: heads parsed, bodies counted off as they come. */
static void consume(Conn *c, double t, double timeout) {
    for (;;) {
        if (c->in_body) {
            size_t take = c->body_left < c->len ? c->body_left : c->len;
            drop(c, take);
            c->body_left -= take;
            if (c->body_left > 0) return;
            c->in_body = 0;
            answered(c, t, timeout);
            continue;
        }
        size_t head = parse_head(c);
        if (head == 0) return;
        drop(c, head);
        c->in_body = 1;
    }
}

static void readable(Conn *c, double t, double timeout) {
    int closed = 0;
    for (;;) {
        ssize_t n = read(c->fd, c->buf + c->len, sizeof c->buf - c->len);
        if (n > 0) {
            c->len += n;
            if (c->len == sizeof c->buf) consume(c, t, timeout); /* a long body: count off what is here */
            if (c->len == sizeof c->buf) { /* a head longer than the buffer: not HTTP we can read */
                closed = 1;
                break;
            }
            continue;
        }
        closed = !(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
        break;
    }
    consume(c, t, timeout);
    if (closed) {
        if (c->due >= 0 && c->len == 0 && !c->in_body && nstale < nconns)
            stale[nstale++] = c->due; /* a kept-alive connection the server closed as it was reused: as HTTP
                                         clients do, send the request again on another (its due time kept) */
        else if (c->due >= 0)
            broken++; /* closed (or reset) in the middle of an answer */
        reopen(c);
    } else if (c->due < 0 && c->len == 0 && !c->in_body)
        now_idle(c);
}

static void sweep(double t, double timeout) {
    while (qhead < qtail && t - queue[qhead] > timeout) {
        qhead++;
        timeouts++;
    }
    for (int i = 0; i < nconns; i++)
        if (conns[i].due >= 0 && t - conns[i].due > timeout) {
            timeouts++;
            reopen(&conns[i]);
        }
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(double *v, long n, double q) { return n ? v[(long)(q * (n - 1))] : -1; }

int main(int argc, char **argv) {
    if (argc != 9) {
        fprintf(stderr, "usage: %s HOST PORT PATH HEADER RATE SECONDS CONNS TIMEOUT\n", argv[0]);
        return 2;
    }
    double rate = atof(argv[5]), seconds = atof(argv[6]), timeout = atof(argv[8]);
    nconns = atoi(argv[7]);
    addr.sin_family = AF_INET;
    addr.sin_port = htons(atoi(argv[2]));
    inet_pton(AF_INET, argv[1], &addr.sin_addr);
    request_len = snprintf(request, sizeof request, "GET %s HTTP/1.1\r\nHost: %s:%s\r\n%s\r\n\r\n", argv[3], argv[1],
                           argv[2], argv[4]);
    long total = (long)(rate * seconds) + 1;
    queue = malloc(total * sizeof *queue);
    lat200 = malloc(total * sizeof *lat200);
    lag = malloc(total * sizeof *lag);
    conns = calloc(nconns, sizeof *conns);
    idle = calloc(nconns, sizeof *idle);
    stale = calloc(nconns, sizeof *stale);
    ep = epoll_create1(0);
    for (int i = 0; i < nconns; i++) open_conn(&conns[i]);
    struct epoll_event events[1024];
    double start = now() + 1.0, last_sweep = 0; /* a second to connect the pool */
    long due_index = 0;
    for (;;) {
        double t = now();
        if (t >= start) {
            long due_now = (long)((t - start) * rate);
            if (due_now > total - 1) due_now = total - 1;
            for (; due_index < due_now; due_index++) {
                double due = start + due_index / rate;
                Conn *c = qhead == qtail ? idle_conn() : NULL;
                if (c != NULL) {
                    lag[nlag++] = (t - due) * 1000;
                    send_on(c, due);
                } else
                    queue[qtail++] = due;
            }
        }
        if (t - last_sweep > 0.01) {
            sweep(t, timeout);
            last_sweep = t;
        }
        int busy = qhead < qtail || nstale > 0;
        for (int i = 0; i < nconns && !busy; i++) busy = conns[i].due >= 0;
        if (t > start + seconds && (!busy || t > start + seconds + timeout + 1)) break;
        int n = epoll_wait(ep, events, 1024, 1);
        t = now();
        for (int i = 0; i < n; i++) {
            Conn *c = events[i].data.ptr;
            if (!c->connected && (events[i].events & EPOLLOUT)) {
                int err = 0;
                socklen_t len = sizeof err;
                getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
                if (err) {
                    broken++;
                    reopen(c);
                    continue;
                }
                c->connected = 1;
                now_idle(c);
                struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
                epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
            }
            if (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) readable(c, t, timeout);
        }
        dispatch_queue();
    }
    sweep(now() + timeout + 1, timeout);
    timeouts += qtail - qhead + nstale;
    qsort(lat200, n200, sizeof *lat200, cmp);
    qsort(lag, nlag, sizeof *lag, cmp);
    long s5xx = 0, other = 0; /* 5xx: 503 too (also printed alone: the buckets' refusal) */
    for (int s = 500; s < 600; s++) s5xx += status_count[s];
    for (int s = 0; s < 600; s++)
        if (s != 200 && s != 429 && (s < 500)) other += status_count[s];
    printf("{\"scheduled\": %ld, \"sent\": %ld, \"ok\": %ld, \"s429\": %ld, \"s5xx\": %ld, \"other\": %ld, \"timeouts\": %ld, "
           "\"s503\": %ld, \"broken\": %ld, \"resent\": %ld, \"p50_ms\": %.2f, \"p99_ms\": %.2f, \"max_ms\": %.2f, \"lag_p99_ms\": %.2f, "
           "\"seconds\": %.3f}\n",
           due_index, sent, status_count[200], status_count[429], s5xx, other, timeouts, status_count[503], broken, resent, pct(lat200, n200, 0.5),
           pct(lat200, n200, 0.99), n200 ? lat200[n200 - 1] : -1, pct(lag, nlag, 0.99), seconds);
    return 0;
}
