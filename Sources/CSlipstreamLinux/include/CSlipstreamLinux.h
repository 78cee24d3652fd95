// Linux interfaces the Swift overlay for Glibc does not import: epoll(7) and eventfd(2), and GNU extensions
// (accept4, recvmmsg and sendmmsg, SO_RXQ_OVFL drop counts, thread names, malloc_trim), for the data plane's flow loops and the server.
#ifndef C_SLIPSTREAM_LINUX_H
#define C_SLIPSTREAM_LINUX_H

#ifdef __linux__
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

/// accept4(2): accepts a connection with `flags` (SOCK_NONBLOCK, SOCK_CLOEXEC) set on the new descriptor.
int cslipstream_accept4(int fd, struct sockaddr *address, socklen_t *length, int flags);

/// A batch of datagram slots for recvmmsg(2) and sendmmsg(2): `capacity` slots of `slot_size` bytes, each with
/// room for a source address. One per flow loop; not thread-safe.
typedef struct cslipstream_datagram_batch cslipstream_datagram_batch;

/// A batch of `capacity` slots of `slot_size` bytes each, or NULL when memory is short.
cslipstream_datagram_batch *cslipstream_batch_create(unsigned int capacity, size_t slot_size);
void cslipstream_batch_destroy(cslipstream_datagram_batch *batch);

/// One recvmmsg(2) call on `fd` (MSG_DONTWAIT | MSG_TRUNC) into the batch's slots: the number of datagrams
/// received, or -1 with errno set (EAGAIN when none waits).
int cslipstream_batch_receive(cslipstream_datagram_batch *batch, int fd);

/// The bytes of received datagram `index`.
const void *cslipstream_batch_bytes(const cslipstream_datagram_batch *batch, unsigned int index);
/// The length of received datagram `index` as it was sent; longer than the slot when the datagram was cut.
size_t cslipstream_batch_length(const cslipstream_datagram_batch *batch, unsigned int index);
/// The source address of received datagram `index`.
const struct sockaddr_storage *cslipstream_batch_source(const cslipstream_datagram_batch *batch, unsigned int index);
/// After cslipstream_batch_receive returned `count`: the receiving socket's count of datagrams the kernel dropped
/// (mostly for a full receive buffer), as the latest of those datagrams carried it (SO_RXQ_OVFL, socket(7); a
/// cumulative, wrapping 32-bit count), or -1 when none carried one (the socket had dropped nothing when they were
/// queued, or the option is off).
int64_t cslipstream_batch_drop_count(const cslipstream_datagram_batch *batch, unsigned int count);

/// Sends received datagrams 0..<count that arrived whole to `address` from `fd` with sendmmsg(2), going on past a
/// datagram the socket refuses. Afterwards cslipstream_batch_sent tells each datagram's fate.
void cslipstream_batch_send(cslipstream_datagram_batch *batch, int fd, unsigned int count,
                            const struct sockaddr *address, socklen_t address_length);
/// After cslipstream_batch_send: the bytes sent of datagram `index`; -1 when the socket refused it, -2 when it was
/// not sent because it had been cut.
long cslipstream_batch_sent(const cslipstream_datagram_batch *batch, unsigned int index);

/// malloc_trim(3) with pad 0: hands the free pages of every malloc arena back to the system; 1 when some were.
int cslipstream_release_free_heap(void);

/// pthread_setname_np(3) for the calling thread; `name` is cut to 15 bytes.
void cslipstream_set_thread_name(const char *name);
#endif

#endif
