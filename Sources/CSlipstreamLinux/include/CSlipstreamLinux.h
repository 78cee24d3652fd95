// Linux interfaces the Swift overlay for Glibc does not import: epoll(7) and eventfd(2), and two GNU extensions,
// for the data plane's flow loops.
#ifndef C_SLIPSTREAM_LINUX_H
#define C_SLIPSTREAM_LINUX_H

#ifdef __linux__
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

/// accept4(2): accepts a connection with `flags` (SOCK_NONBLOCK, SOCK_CLOEXEC) set on the new descriptor.
int cslipstream_accept4(int fd, struct sockaddr *address, socklen_t *length, int flags);

/// pthread_setname_np(3) for the calling thread; `name` is cut to 15 bytes.
void cslipstream_set_thread_name(const char *name);
#endif

#endif
