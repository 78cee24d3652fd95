#define _GNU_SOURCE
#include "CSlipstreamLinux.h"

#ifdef __linux__
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#define CSLIPSTREAM_CONTROL_SIZE CMSG_SPACE(sizeof(uint32_t))

int cslipstream_accept4(int fd, struct sockaddr *address, socklen_t *length, int flags) {
    return accept4(fd, address, length, flags);
}

struct cslipstream_datagram_batch {
    unsigned int capacity;
    size_t slot_size;
    unsigned char *slots;
    struct iovec *vectors;
    struct sockaddr_storage *sources;
    /// Per slot, room for one control message: the SO_RXQ_OVFL drop count.
    unsigned char *controls;
    struct mmsghdr *messages;
    /// The messages handed to sendmmsg and, per received datagram, its fate (bytes sent, -1 refused, -2 cut).
    struct mmsghdr *outgoing;
    unsigned int *outgoing_index;
    long *sent;
};

cslipstream_datagram_batch *cslipstream_batch_create(unsigned int capacity, size_t slot_size) {
    cslipstream_datagram_batch *batch = calloc(1, sizeof(*batch));
    if (batch == NULL) return NULL;
    batch->capacity = capacity;
    batch->slot_size = slot_size;
    batch->slots = malloc((size_t)capacity * slot_size);
    batch->vectors = calloc(capacity, sizeof(struct iovec));
    batch->sources = calloc(capacity, sizeof(struct sockaddr_storage));
    batch->controls = calloc(capacity, CSLIPSTREAM_CONTROL_SIZE);
    batch->messages = calloc(capacity, sizeof(struct mmsghdr));
    batch->outgoing = calloc(capacity, sizeof(struct mmsghdr));
    batch->outgoing_index = calloc(capacity, sizeof(unsigned int));
    batch->sent = calloc(capacity, sizeof(long));
    if (!batch->slots || !batch->vectors || !batch->sources || !batch->controls || !batch->messages || !batch->outgoing ||
        !batch->outgoing_index || !batch->sent) {
        cslipstream_batch_destroy(batch);
        return NULL;
    }
    for (unsigned int i = 0; i < capacity; i++) {
        batch->vectors[i].iov_base = batch->slots + (size_t)i * slot_size;
        batch->vectors[i].iov_len = slot_size;
    }
    return batch;
}

void cslipstream_batch_destroy(cslipstream_datagram_batch *batch) {
    if (batch == NULL) return;
    free(batch->slots);
    free(batch->vectors);
    free(batch->sources);
    free(batch->controls);
    free(batch->messages);
    free(batch->outgoing);
    free(batch->outgoing_index);
    free(batch->sent);
    free(batch);
}

int cslipstream_batch_receive(cslipstream_datagram_batch *batch, int fd) {
    for (unsigned int i = 0; i < batch->capacity; i++) {
        struct msghdr *header = &batch->messages[i].msg_hdr;
        memset(header, 0, sizeof(*header));
        header->msg_name = &batch->sources[i];
        header->msg_namelen = sizeof(struct sockaddr_storage);
        header->msg_iov = &batch->vectors[i];
        header->msg_iovlen = 1;
        header->msg_control = batch->controls + (size_t)i * CSLIPSTREAM_CONTROL_SIZE;
        header->msg_controllen = CSLIPSTREAM_CONTROL_SIZE;
        batch->messages[i].msg_len = 0;
    }
    return recvmmsg(fd, batch->messages, batch->capacity, MSG_DONTWAIT | MSG_TRUNC, NULL);
}

const void *cslipstream_batch_bytes(const cslipstream_datagram_batch *batch, unsigned int index) {
    return batch->vectors[index].iov_base;
}

size_t cslipstream_batch_length(const cslipstream_datagram_batch *batch, unsigned int index) {
    return batch->messages[index].msg_len;
}

const struct sockaddr_storage *cslipstream_batch_source(const cslipstream_datagram_batch *batch, unsigned int index) {
    return &batch->sources[index];
}

int64_t cslipstream_batch_drop_count(const cslipstream_datagram_batch *batch, unsigned int count) {
    for (unsigned int i = count; i > 0; i--) {
        struct msghdr *header = (struct msghdr *)&batch->messages[i - 1].msg_hdr;
        for (struct cmsghdr *control = CMSG_FIRSTHDR(header); control != NULL; control = CMSG_NXTHDR(header, control)) {
            if (control->cmsg_level == SOL_SOCKET && control->cmsg_type == SO_RXQ_OVFL &&
                control->cmsg_len >= CMSG_LEN(sizeof(uint32_t))) {
                uint32_t drops;
                memcpy(&drops, CMSG_DATA(control), sizeof(drops));
                return (int64_t)drops;
            }
        }
    }
    return -1;
}

void cslipstream_batch_send(cslipstream_datagram_batch *batch, int fd, unsigned int count,
                            const struct sockaddr *address, socklen_t address_length) {
    struct iovec vectors[count > 0 ? count : 1];
    unsigned int outgoing = 0;
    for (unsigned int i = 0; i < count; i++) {
        size_t length = batch->messages[i].msg_len;
        if (length > batch->slot_size) {
            batch->sent[i] = -2;
            continue;
        }
        batch->sent[i] = -1;
        vectors[outgoing].iov_base = batch->vectors[i].iov_base;
        vectors[outgoing].iov_len = length;
        struct msghdr *header = &batch->outgoing[outgoing].msg_hdr;
        memset(header, 0, sizeof(*header));
        header->msg_name = (void *)address;
        header->msg_namelen = address_length;
        header->msg_iov = &vectors[outgoing];
        header->msg_iovlen = 1;
        batch->outgoing_index[outgoing] = i;
        outgoing++;
    }
    unsigned int next = 0;
    while (next < outgoing) {
        int done = sendmmsg(fd, batch->outgoing + next, outgoing - next, MSG_DONTWAIT);
        if (done > 0) {
            for (int k = 0; k < done; k++) {
                batch->sent[batch->outgoing_index[next + k]] = batch->outgoing[next + k].msg_len;
            }
            next += (unsigned int)done;
        } else if (done < 0 && errno == EINTR) {
            continue;
        } else {
            next++;   // refused: its fate stays -1; go on with the next datagram
        }
    }
}

long cslipstream_batch_sent(const cslipstream_datagram_batch *batch, unsigned int index) { return batch->sent[index]; }

int cslipstream_release_free_heap(void) { return malloc_trim(0); }

void cslipstream_set_thread_name(const char *name) {
    char cut[16];
    strncpy(cut, name, sizeof(cut) - 1);
    cut[sizeof(cut) - 1] = '\0';
    pthread_setname_np(pthread_self(), cut);
}
#endif
