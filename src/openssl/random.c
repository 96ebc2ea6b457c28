/*
 * random.c - random bytes for the OpenSSL backend: RAND_bytes, fork-safe.
 *
 * Fork safety. OpenSSL 3.0 keeps a fork id (getpid()) in every DRBG of the
 * default provider and reseeds from the OS entropy source when it changes
 * (ossl_prov_drbg_generate, providers/implementations/rands/drbg.c), so a
 * forked child never continues its parent's or a sibling's stream; spec/core
 * and spec/support/backend_harness.c check it with forked children.
 * One gap remains: the pid alone cannot tell a process from an earlier one
 * that had the same pid. nginx loads the module in the process that becomes
 * the master's parent (it daemonises), so a later worker that is given that
 * recycled pid after a pid wrap-around would not reseed and would repeat the
 * stream another worker with that pid drew before. A pthread_atfork child
 * handler closes it: after any fork, the next draw first reseeds the primary
 * DRBG from the OS (the public and private DRBGs follow their parent's
 * reseed). glibc drops the handler when the module is unloaded (dlclose).
 */
#include "ossl.h"

#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#define CHUNK (1 << 30) /* RAND_bytes takes an int length */

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static volatile sig_atomic_t forked;

static void on_fork_child(void)
{
    forked = 1;
}

static void register_atfork(void)
{
    (void)pthread_atfork(NULL, NULL, on_fork_child);
}

void wp_ossl_fork_check(void)
{
    (void)pthread_once(&atfork_once, register_atfork);
    if (forked) {
        struct {
            pid_t pid;
            struct timespec ts;
        } adin;
        EVP_RAND_CTX *primary;

        forked = 0;
        memset(&adin, 0, sizeof adin);
        adin.pid = getpid();
        (void)clock_gettime(CLOCK_REALTIME, &adin.ts);
        WP_OSSL_ENTER();
        primary = RAND_get0_primary(NULL);
        /* A reseed always draws fresh entropy from the OS seed source; the
         * pid and time are additional input only. On failure the DRBGs'
         * own getpid() check still applies. */
        if (primary != NULL)
            (void)EVP_RAND_reseed(primary, 0, NULL, 0, (const unsigned char *)&adin, sizeof adin);
        WP_OSSL_LEAVE();
    }
}

int wp_random(unsigned char *buf, size_t len, wp_err *e)
{
    wp_ossl_fork_check();
    WP_OSSL_ENTER();
    while (len > 0) {
        int n = len > CHUNK ? CHUNK : (int)len;
        if (RAND_bytes(buf, n) != 1) return wp_ossl_fail(e, "random generator failed");
        buf += n;
        len -= (size_t)n;
    }
    WP_OSSL_LEAVE();
    return WP_OK;
}
