/*
 * random.c - library state of the mbedTLS backend: CTR-DRBG seeded from the
 * platform entropy source (getrandom(2) / /dev/urandom), made fork-safe.
 *
 * Fork safety: nginx loads the module in its master and forks workers that
 * inherit the generator state byte for byte. Before every draw we check
 * whether we are in a new process (getpid() changed, or the pthread_atfork
 * child handler ran - the latter also catches a pid that was reused) and, if
 * so, reseed from the OS entropy source with the pid as additional input, so
 * no two processes forked from one parent share a stream.
 */
#include "mbed.h"

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/version.h>

#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int ready;
static int atfork_registered;
static pid_t seeded_pid;
static volatile sig_atomic_t forked;
static mbedtls_entropy_context entropy;
static mbedtls_ctr_drbg_context drbg;
static char version[32];

static void on_fork_child(void)
{
    forked = 1;
}

static int rng_fail(wp_err *e, const char *what, int rc)
{
    char buf[96];
    wp_mbed_strerror(rc, buf, sizeof buf);
    return wp_fail(e, "random generator: %s failed (%s)", what, buf);
}

/* Caller holds lock. */
static int ensure_seeded(wp_err *e)
{
    pid_t pid = getpid();
    int rc;

    if (!ready) {
        /* personalisation: a tag, the pid and the time (no padding bytes) */
        unsigned char pers[16 + sizeof(pid_t) + sizeof(time_t)];
        time_t now = time(NULL);

        memset(pers, 0, sizeof pers);
        memcpy(pers, "wechatpay-lua", 13);
        memcpy(pers + 16, &pid, sizeof pid);
        memcpy(pers + 16 + sizeof pid, &now, sizeof now);

        mbedtls_entropy_init(&entropy);
        mbedtls_ctr_drbg_init(&drbg);
        rc = mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy, pers, sizeof pers);
        if (rc != 0) {
            mbedtls_ctr_drbg_free(&drbg);
            mbedtls_entropy_free(&entropy);
            return rng_fail(e, "seeding", rc);
        }
        if (!atfork_registered) {
            /* glibc unregisters the handler when this object is dlclose()d. */
            if (pthread_atfork(NULL, NULL, on_fork_child) == 0) atfork_registered = 1;
        }
        ready = 1;
        seeded_pid = pid;
        forked = 0;
        return WP_OK;
    }
    if (forked || pid != seeded_pid) {
        rc = mbedtls_ctr_drbg_reseed(&drbg, (const unsigned char *)&pid, sizeof pid);
        if (rc != 0) return rng_fail(e, "reseeding after fork", rc);
        seeded_pid = pid;
        forked = 0;
    }
    return WP_OK;
}

int wp_crypto_init(wp_err *e)
{
    int rc;
    pthread_mutex_lock(&lock);
    rc = ensure_seeded(e);
    if (version[0] == '\0') {
        char full[18];
        mbedtls_version_get_string_full(full);
        full[sizeof full - 1] = '\0';
        memcpy(version, full, strlen(full) + 1);
    }
    pthread_mutex_unlock(&lock);
    return rc;
}

const char *wp_crypto_backend(void)
{
    return "mbedtls";
}

const char *wp_crypto_version(void)
{
    return version[0] ? version : MBEDTLS_VERSION_STRING_FULL;
}

int wp_random(unsigned char *buf, size_t len, wp_err *e)
{
    int rc = WP_OK;

    pthread_mutex_lock(&lock);
    if (ensure_seeded(e) != WP_OK) {
        rc = WP_ERR;
    } else {
        while (len > 0) {
            size_t n = len > MBEDTLS_CTR_DRBG_MAX_REQUEST ? MBEDTLS_CTR_DRBG_MAX_REQUEST : len;
            int r = mbedtls_ctr_drbg_random(&drbg, buf, n);
            if (r != 0) {
                rc = rng_fail(e, "drawing", r);
                break;
            }
            buf += n;
            len -= n;
        }
    }
    pthread_mutex_unlock(&lock);
    return rc;
}

int wp_mbed_rng(void *p_rng, unsigned char *buf, size_t len)
{
    wp_err e;
    (void)p_rng;
    return wp_random(buf, len, &e) == WP_OK ? 0 : MBEDTLS_ERR_CTR_DRBG_ENTROPY_SOURCE_FAILED;
}

void wp_mbed_strerror(int code, char *buf, size_t cap)
{
    mbedtls_strerror(code, buf, cap);
}

/* Wipe the generator state when the module is unloaded. */
#if defined(__GNUC__)
__attribute__((destructor)) static void wp_mbed_random_unload(void)
{
    pthread_mutex_lock(&lock);
    if (ready) {
        mbedtls_ctr_drbg_free(&drbg);
        mbedtls_entropy_free(&entropy);
        ready = 0;
    }
    pthread_mutex_unlock(&lock);
}
#endif
