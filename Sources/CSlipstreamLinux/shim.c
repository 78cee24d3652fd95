#define _GNU_SOURCE
#include "CSlipstreamLinux.h"

#ifdef __linux__
#include <pthread.h>
#include <string.h>

int cslipstream_accept4(int fd, struct sockaddr *address, socklen_t *length, int flags) {
    return accept4(fd, address, length, flags);
}

void cslipstream_set_thread_name(const char *name) {
    char cut[16];
    strncpy(cut, name, sizeof(cut) - 1);
    cut[sizeof(cut) - 1] = '\0';
    pthread_setname_np(pthread_self(), cut);
}
#endif
