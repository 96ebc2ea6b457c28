/*
 * backend_harness.c - a C-level test of one crypto backend (the files of src/<backend>/)
 * against the openssl command line, independent of the Lua binding.
 *
 *   make -f mk/openssl.mk harness   (or see mk/openssl.mk: backend-harness)
 *   build/openssl/backend_harness [--bench N]
 *
 * Prints TAP. Keys are generated at run time with `openssl` in a temporary
 * directory (removed at the end). Every signature is compared with the one
 * `openssl dgst -sha256 -sign` makes; OAEP is checked both ways with
 * `openssl pkeyutl`; GCM against the known answer of apiv3-protocol.md §9;
 * serials against `openssl x509 -serial`. After every call the OpenSSL error
 * queue is checked to be exactly as the caller left it (when the backend is
 * OpenSSL; the check is compiled in with -DWP_HARNESS_OPENSSL).
 *
 * It links only the backend files, so it provides wp_fail and wp_zeroize
 * itself (keyform.c is not linked).
 */
#define _GNU_SOURCE 1 /* mkdtemp, fork */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "crypto.h"

#ifndef BACKEND_NAME
#define BACKEND_NAME "openssl"
#endif

#ifdef WP_HARNESS_OPENSSL
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/rand.h>

/* The primary DRBG's reseed counter (0 when unreadable). */
static unsigned int primary_reseeds(void)
{
    unsigned int n = 0;
    OSSL_PARAM p[2];
    EVP_RAND_CTX *primary = RAND_get0_primary(NULL);
    p[0] = OSSL_PARAM_construct_uint(OSSL_DRBG_PARAM_RESEED_COUNTER, &n);
    p[1] = OSSL_PARAM_construct_end();
    if (primary == NULL || EVP_RAND_CTX_get_params(primary, p) != 1) return 0;
    return n;
}
#endif

/* ---- what keyform.c would provide -------------------------------------------- */
int wp_fail(wp_err *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (e != NULL) vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return WP_ERR;
}

void wp_zeroize(void *p, size_t n)
{
    volatile unsigned char *v = p;
    while (n--) *v++ = 0;
}

/* ---- tiny TAP ------------------------------------------------------------------ */
static int ntest, nfail;
static char dir[64];

static void ok(int cond, const char *fmt, ...)
{
    va_list ap;
    ntest++;
    if (!cond) nfail++;
    printf("%s %d - ", cond ? "ok" : "not ok", ntest);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
}

#ifdef WP_HARNESS_OPENSSL
/* A sentinel error pushed before the calls: after each call it must still be
 * the only entry on the queue (nothing added, nothing of ours left, nothing of
 * the caller's eaten). */
static void queue_arm(void)
{
    ERR_clear_error();
    ERR_raise_data(ERR_LIB_USER, 4242, "harness sentinel");
}
static int queue_clean(void)
{
    unsigned long first = ERR_get_error();
    int clean = ERR_GET_LIB(first) == ERR_LIB_USER && ERR_GET_REASON(first) == 4242 &&
                ERR_peek_error() == 0;
    queue_arm();
    return clean;
}
#else
static void queue_arm(void) {}
static int queue_clean(void) { return 1; }
#endif

/* ---- files and the openssl CLI -------------------------------------------------- */
static int sh(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    int rc;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    rc = system(cmd);
    if (rc != 0) fprintf(stderr, "# command failed (%d): %s\n", rc, cmd);
    return rc == 0;
}

static char *slurp(const char *name, size_t *len)
{
    char path[256];
    FILE *f;
    char *buf;
    long n;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "# cannot open %s\n", path);
        exit(2);
    }
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    if (buf == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n) exit(2);
    buf[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static void spit(const char *name, const void *data, size_t len)
{
    char path[256];
    FILE *f;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "wb");
    if (f == NULL || fwrite(data, 1, len, f) != len) exit(2);
    fclose(f);
}

static wp_key *load_pem(const char *name, wp_key_kind kind, const char *pass, wp_err *e)
{
    size_t len;
    char *pem = slurp(name, &len);
    wp_key *k = NULL;
    int rc = wp_key_from_pem(&k, kind, pem, len, pass, pass ? strlen(pass) : 0, e);
    free(pem);
    return rc == WP_OK ? k : NULL;
}

static wp_key *load_der(const char *name, wp_der_form form, wp_err *e)
{
    size_t len;
    char *der = slurp(name, &len);
    wp_key *k = NULL;
    int rc = wp_key_from_der(&k, form, (const unsigned char *)der, len, e);
    free(der);
    return rc == WP_OK ? k : NULL;
}

static void hex(const unsigned char *p, size_t n, char *out)
{
    static const char d[] = "0123456789abcdef";
    size_t i;
    for (i = 0; i < n; i++) {
        out[2 * i] = d[p[i] >> 4];
        out[2 * i + 1] = d[p[i] & 15];
    }
    out[2 * n] = '\0';
}

static const char MSG[] = "POST\n/v3/payscore/serviceorder\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n"
                          "{\"out_order_no\":\"1234323JKHDFE1243252\",\"appid\":\"wxd678efh567hg6787\","
                          "\"service_id\":\"500001\",\"service_introduction\":\"x\"}\n";

/* ---- the tests -------------------------------------------------------------------- */
static void gen_keys(void)
{
    int okk = sh("cd %s && openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out key.pem 2>/dev/null"
                 " && openssl pkey -in key.pem -pubout -out pub.pem"
                 " && openssl rsa -in key.pem -traditional -out key1.pem 2>/dev/null"
                 " && openssl pkcs8 -topk8 -v2 aes-256-cbc -in key.pem -passout pass:s3cr3t -out enc.pem"
                 " && openssl rsa -in key.pem -traditional -aes128 -passout pass:s3cr3t -out enc1.pem 2>/dev/null"
                 " && openssl rsa -pubin -in pub.pem -RSAPublicKey_out -out pub1.pem 2>/dev/null"
                 " && openssl req -x509 -new -key key.pem -days 1 -subj /CN=test -set_serial 0x3775B6A45ACD5888 -out cert.pem"
                 " && openssl req -x509 -new -key key.pem -days 1 -subj /CN=t2 -set_serial 10 -out cert10.pem"
                 " && openssl req -x509 -new -key key.pem -days 1 -subj /CN=t3"
                 "    -set_serial 0x80112233445566778899AABBCCDDEEFF00112233 -out certhi.pem"
                 " && openssl pkcs8 -topk8 -nocrypt -in key.pem -outform DER -out key8.der"
                 " && openssl rsa -in key.pem -traditional -outform DER -out key1.der 2>/dev/null"
                 " && openssl pkey -in key.pem -pubout -outform DER -out pub.der"
                 " && openssl rsa -pubin -in pub.pem -RSAPublicKey_out -outform DER -out pub1.der 2>/dev/null"
                 " && openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out other.pem 2>/dev/null"
                 " && openssl pkey -in other.pem -pubout -out otherpub.pem"
                 " && openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out small.pem 2>/dev/null"
                 " && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ec.pem"
                 " && openssl genpkey -algorithm RSA-PSS -pkeyopt rsa_keygen_bits:2048 -out pss.pem 2>/dev/null",
                 dir);
    ok(okk, "openssl generated every key form");
    if (!okk) exit(1);
    spit("msg.txt", MSG, sizeof MSG - 1);
    ok(sh("cd %s && openssl dgst -sha256 -sign key.pem -out sig.bin msg.txt", dir), "openssl signed msg.txt");
}

static void test_init(void)
{
    wp_err e;
    queue_arm();
    ok(wp_crypto_init(&e) == WP_OK && wp_crypto_init(&e) == WP_OK, "init (twice)");
    ok(strcmp(wp_crypto_backend(), BACKEND_NAME) == 0, "backend is %s", wp_crypto_backend());
    ok(wp_crypto_version() != NULL && strlen(wp_crypto_version()) > 5, "version: %s", wp_crypto_version());
    ok(queue_clean(), "error queue untouched by init");
}

static void test_sign_forms(void)
{
    static const struct {
        const char *file, *pass;
        int der;
        wp_der_form form;
    } forms[] = {
        {"key.pem", NULL, 0, 0},          {"key1.pem", NULL, 0, 0},
        {"enc.pem", "s3cr3t", 0, 0},      {"enc1.pem", "s3cr3t", 0, 0},
        {"key.pem", "ignored", 0, 0},     {"key8.der", NULL, 1, WP_DER_PKCS8_PRIVATE},
        {"key1.der", NULL, 1, WP_DER_PKCS1_PRIVATE},
    };
    size_t clilen, i;
    char *cli = slurp("sig.bin", &clilen);

    for (i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        wp_err e = {""};
        unsigned char sig[WP_RSA_MAX_BYTES];
        size_t siglen = sizeof sig;
        wp_key *k;
        queue_arm();
        k = forms[i].der ? load_der(forms[i].file, forms[i].form, &e)
                         : load_pem(forms[i].file, WP_KEY_PRIVATE, forms[i].pass, &e);
        ok(k != NULL, "load private %s%s %s", forms[i].file, forms[i].pass ? " with passphrase" : "", e.msg);
        if (k == NULL) continue;
        ok(wp_key_kind_of(k) == WP_KEY_PRIVATE && wp_key_is_rsa(k) && wp_key_bits(k) == 2048,
           "%s: private RSA 2048", forms[i].file);
        ok(wp_rsa_sign(k, (const unsigned char *)MSG, sizeof MSG - 1, sig, &siglen, &e) == WP_OK &&
               siglen == 256 && siglen == clilen && memcmp(sig, cli, clilen) == 0,
           "%s: signature equals openssl dgst -sha256 -sign", forms[i].file);
        ok(wp_rsa_verify(k, (const unsigned char *)MSG, sizeof MSG - 1, sig, siglen) == WP_OK,
           "%s: a private key verifies its signature", forms[i].file);
        ok(queue_clean(), "%s: error queue clean", forms[i].file);
        wp_key_free(k);
    }
    free(cli);
}

static void test_our_sig_verifies_with_cli(void)
{
    wp_err e;
    unsigned char sig[WP_RSA_MAX_BYTES];
    size_t siglen = sizeof sig;
    wp_key *k = load_pem("key.pem", WP_KEY_PRIVATE, NULL, &e);
    static const char get[] = "GET\n/v3/certificates\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n\n";
    ok(k && wp_rsa_sign(k, (const unsigned char *)get, sizeof get - 1, sig, &siglen, &e) == WP_OK, "sign GET message");
    spit("get.txt", get, sizeof get - 1);
    spit("get.sig", sig, siglen);
    ok(sh("cd %s && openssl dgst -sha256 -verify pub.pem -signature get.sig get.txt | grep -q 'Verified OK'", dir),
       "openssl dgst -verify: Verified OK for our signature");
    siglen = 10;
    queue_arm();
    ok(wp_rsa_sign(k, (const unsigned char *)get, sizeof get - 1, sig, &siglen, &e) == WP_ERR && queue_clean(),
       "sign with a too-small buffer fails: %s", e.msg);
    wp_key_free(k);
}

static void test_verify_forms(void)
{
    static const struct {
        const char *file;
        int der;
        wp_der_form form;
    } forms[] = {
        {"pub.pem", 0, 0}, {"pub1.pem", 0, 0}, {"cert.pem", 0, 0},
        {"pub.der", 1, WP_DER_SPKI}, {"pub1.der", 1, WP_DER_PKCS1_PUBLIC},
    };
    size_t clilen, i;
    char *cli = slurp("sig.bin", &clilen);
    unsigned char bad[WP_RSA_MAX_BYTES];

    for (i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        wp_err e = {""};
        wp_key *k;
        queue_arm();
        k = forms[i].der ? load_der(forms[i].file, forms[i].form, &e) : load_pem(forms[i].file, WP_KEY_PUBLIC, NULL, &e);
        ok(k != NULL, "load public %s %s", forms[i].file, e.msg);
        if (k == NULL) continue;
        ok(wp_key_kind_of(k) == WP_KEY_PUBLIC && wp_key_is_rsa(k) && wp_key_bits(k) == 2048, "%s: public RSA 2048",
           forms[i].file);
        ok(wp_rsa_verify(k, (const unsigned char *)MSG, sizeof MSG - 1, (const unsigned char *)cli, clilen) == WP_OK,
           "%s: openssl's signature verifies", forms[i].file);
        memcpy(bad, cli, clilen);
        bad[100] ^= 1;
        ok(wp_rsa_verify(k, (const unsigned char *)MSG, sizeof MSG - 1, bad, clilen) == WP_MISMATCH,
           "%s: one flipped bit is a mismatch", forms[i].file);
        ok(wp_rsa_verify(k, (const unsigned char *)MSG, sizeof MSG - 2, (const unsigned char *)cli, clilen) ==
               WP_MISMATCH,
           "%s: other message is a mismatch", forms[i].file);
        ok(wp_rsa_verify(k, (const unsigned char *)MSG, sizeof MSG - 1, (const unsigned char *)cli, clilen - 1) ==
               WP_MISMATCH,
           "%s: short signature is a mismatch", forms[i].file);
        memset(bad, 0xff, clilen);
        ok(wp_rsa_verify(k, (const unsigned char *)MSG, sizeof MSG - 1, bad, clilen) == WP_MISMATCH,
           "%s: signature >= modulus is a mismatch", forms[i].file);
        memset(bad, 0, clilen);
        ok(wp_rsa_verify(k, (const unsigned char *)MSG, sizeof MSG - 1, bad, clilen) == WP_MISMATCH,
           "%s: all-zero signature is a mismatch", forms[i].file);
        ok(wp_rsa_verify(k, (const unsigned char *)MSG, sizeof MSG - 1, (const unsigned char *)cli, clilen) == WP_OK,
           "%s: the prepared context still verifies after the mismatches", forms[i].file);
        ok(queue_clean(), "%s: error queue clean after mismatches", forms[i].file);
        {
            unsigned char sig[WP_RSA_MAX_BYTES];
            size_t siglen = sizeof sig;
            ok(wp_rsa_sign(k, (const unsigned char *)MSG, 3, sig, &siglen, &e) == WP_ERR && queue_clean(),
               "%s: a public key cannot sign: %s", forms[i].file, e.msg);
        }
        wp_key_free(k);
    }
    {
        wp_err e;
        wp_key *other = load_pem("otherpub.pem", WP_KEY_PUBLIC, NULL, &e);
        ok(other && wp_rsa_verify(other, (const unsigned char *)MSG, sizeof MSG - 1, (const unsigned char *)cli,
                                  clilen) == WP_MISMATCH && queue_clean(),
           "another key's public key: mismatch");
        wp_key_free(other);
    }
    free(cli);
}

static void test_bad_keys(void)
{
    wp_err e;
    wp_key *k;
    static const char junk[] = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
    static const unsigned char junkder[] = {0x30, 0x03, 0x02, 0x01, 0x00};

#define REFUSE(expr, what)                                                                                 \
    do {                                                                                                   \
        e.msg[0] = '\0';                                                                                   \
        queue_arm();                                                                                       \
        k = (expr);                                                                                        \
        ok(k == NULL && e.msg[0] != '\0' && strstr(e.msg, "s3cr3t") == NULL && queue_clean(), what ": %s", \
           e.msg);                                                                                         \
        wp_key_free(k);                                                                                    \
    } while (0)

    REFUSE(load_pem("enc.pem", WP_KEY_PRIVATE, NULL, &e), "encrypted PKCS#8 without passphrase");
    REFUSE(load_pem("enc.pem", WP_KEY_PRIVATE, "wrong", &e), "encrypted PKCS#8 with a wrong passphrase");
    REFUSE(load_pem("enc1.pem", WP_KEY_PRIVATE, NULL, &e), "encrypted PKCS#1 without passphrase");
    REFUSE(load_pem("enc1.pem", WP_KEY_PRIVATE, "wrong", &e), "encrypted PKCS#1 with a wrong passphrase");
    REFUSE(load_pem("pub.pem", WP_KEY_PRIVATE, NULL, &e), "public PEM as private");
    REFUSE(load_pem("cert.pem", WP_KEY_PRIVATE, NULL, &e), "certificate as private");
    REFUSE(load_pem("key.pem", WP_KEY_PUBLIC, NULL, &e), "PKCS#8 private PEM as public");
    REFUSE(load_pem("key1.pem", WP_KEY_PUBLIC, NULL, &e), "PKCS#1 private PEM as public");
    REFUSE(load_der("pub.der", WP_DER_PKCS8_PRIVATE, &e), "SPKI DER as PKCS#8 private");
    REFUSE(load_der("pub1.der", WP_DER_PKCS1_PRIVATE, &e), "PKCS#1 public DER as PKCS#1 private");
    REFUSE(load_der("key8.der", WP_DER_SPKI, &e), "PKCS#8 DER as SPKI");
    /* Like the mbedTLS backend, the DER form only selects private versus
     * public: PKCS#1 and PKCS#8 (RSAPublicKey and SPKI) are told apart from
     * the DER itself. */
    {
        static const struct {
            const char *file;
            wp_der_form form;
        } swapped[] = {{"key1.der", WP_DER_PKCS8_PRIVATE},
                       {"key8.der", WP_DER_PKCS1_PRIVATE},
                       {"pub1.der", WP_DER_SPKI},
                       {"pub.der", WP_DER_PKCS1_PUBLIC}};
        size_t i;
        for (i = 0; i < 4; i++) {
            queue_arm();
            k = load_der(swapped[i].file, swapped[i].form, &e);
            ok(k != NULL && wp_key_bits(k) == 2048 && queue_clean(), "%s under the other DER form of its kind loads",
               swapped[i].file);
            wp_key_free(k);
        }
    }
    REFUSE(load_der("key1.der", WP_DER_PKCS1_PUBLIC, &e), "PKCS#1 private DER as PKCS#1 public");
    {
        size_t len;
        char *der = slurp("key8.der", &len), *longer = malloc(len + 1);
        memcpy(longer, der, len);
        longer[len] = 0;
        k = NULL;
        queue_arm();
        ok(wp_key_from_der(&k, WP_DER_PKCS8_PRIVATE, (unsigned char *)longer, len + 1, &e) == WP_ERR && k == NULL &&
               queue_clean(),
           "DER with a trailing byte is refused: %s", e.msg);
        k = NULL;
        ok(wp_key_from_der(&k, WP_DER_PKCS8_PRIVATE, (unsigned char *)der, len - 1, &e) == WP_ERR && k == NULL &&
               queue_clean(),
           "truncated DER is refused: %s", e.msg);
        free(der);
        free(longer);
    }
    k = NULL;
    queue_arm();
    ok(wp_key_from_pem(&k, WP_KEY_PRIVATE, junk, sizeof junk - 1, NULL, 0, &e) == WP_ERR && queue_clean(),
       "garbage PEM body: %s", e.msg);
    ok(wp_key_from_pem(&k, WP_KEY_PRIVATE, "", 0, NULL, 0, &e) == WP_ERR && queue_clean(), "empty input: %s", e.msg);
    ok(wp_key_from_pem(&k, WP_KEY_PUBLIC, "hello", 5, NULL, 0, &e) == WP_ERR && queue_clean(), "no PEM: %s", e.msg);
    ok(wp_key_from_der(&k, WP_DER_SPKI, junkder, sizeof junkder, &e) == WP_ERR && queue_clean(), "junk DER: %s",
       e.msg);

    /* Non-RSA keys are refused naming the algorithm; other RSA sizes load (keyform.c refuses them). */
    REFUSE(load_pem("ec.pem", WP_KEY_PRIVATE, NULL, &e), "an EC key");
    ok(strcmp(e.msg, "not RSA (EC key)") == 0, "EC: message names the algorithm");
    REFUSE(load_pem("pss.pem", WP_KEY_PRIVATE, NULL, &e), "an RSA-PSS key (not rsaEncryption)");
    ok(strcmp(e.msg, "not RSA (RSA-PSS key)") == 0, "RSA-PSS: message names the algorithm");
    k = load_pem("small.pem", WP_KEY_PRIVATE, NULL, &e);
    ok(k != NULL && wp_key_is_rsa(k) && wp_key_bits(k) == 1024 && queue_clean(), "RSA-1024 loads with bits 1024");
    wp_key_free(k);
    wp_key_free(NULL);
}

static void test_oaep(void)
{
    wp_err e;
    wp_key *pub = load_pem("pub.pem", WP_KEY_PUBLIC, NULL, &e), *priv = load_pem("key.pem", WP_KEY_PRIVATE, NULL, &e),
           *cert = load_pem("cert.pem", WP_KEY_PUBLIC, NULL, &e);
    unsigned char pt[215], ct[WP_RSA_MAX_BYTES], back[WP_RSA_MAX_BYTES];
    size_t ctlen = sizeof ct, backlen = sizeof back, i, n;
    char *cli;

    for (i = 0; i < sizeof pt; i++) pt[i] = (unsigned char)(i * 7 + 1);
    queue_arm();
    ok(wp_rsa_oaep_encrypt(pub, pt, 214, ct, &ctlen, &e) == WP_OK && ctlen == 256, "OAEP encrypts 214 bytes");
    spit("oaep.bin", ct, ctlen);
    spit("oaep.pt", pt, 214);
    ok(sh("cd %s && openssl pkeyutl -decrypt -inkey key.pem -pkeyopt rsa_padding_mode:oaep -in oaep.bin -out oaep.out"
          " && cmp -s oaep.out oaep.pt",
          dir),
       "openssl pkeyutl -decrypt (oaep) recovers our plaintext");
    ok(wp_rsa_oaep_decrypt(priv, ct, ctlen, back, &backlen, &e) == WP_OK && backlen == 214 &&
           memcmp(back, pt, 214) == 0,
       "round trip 214 bytes");
    ctlen = sizeof ct;
    ok(wp_rsa_oaep_encrypt(pub, pt, 215, ct, &ctlen, &e) == WP_ERR && queue_clean(), "215 bytes refused: %s", e.msg);
    ctlen = sizeof ct;
    ok(wp_rsa_oaep_encrypt(priv, pt, 0, ct, &ctlen, &e) == WP_OK && ctlen == 256, "private key encrypts, empty input");
    backlen = sizeof back;
    ok(wp_rsa_oaep_decrypt(priv, ct, ctlen, back, &backlen, &e) == WP_OK && backlen == 0, "empty round trip");
    ctlen = sizeof ct;
    ok(wp_rsa_oaep_encrypt(cert, pt, 5, ct, &ctlen, &e) == WP_OK, "certificate key encrypts");
    ok(queue_clean(), "error queue clean");

    spit("cli.pt", "sensitive: 张三", strlen("sensitive: 张三"));
    ok(sh("cd %s && openssl pkeyutl -encrypt -pubin -inkey pub.pem -pkeyopt rsa_padding_mode:oaep -in cli.pt -out "
          "cli.ct",
          dir),
       "openssl pkeyutl -encrypt (oaep)");
    cli = slurp("cli.ct", &n);
    backlen = sizeof back;
    ok(wp_rsa_oaep_decrypt(priv, (unsigned char *)cli, n, back, &backlen, &e) == WP_OK &&
           backlen == strlen("sensitive: 张三") && memcmp(back, "sensitive: 张三", backlen) == 0,
       "decrypts openssl's OAEP ciphertext");
    backlen = 3;
    ok(wp_rsa_oaep_decrypt(priv, (unsigned char *)cli, n, back, &backlen, &e) == WP_ERR && queue_clean(),
       "decrypt into a too-small buffer: %s", e.msg);
    cli[10] ^= 0x40;
    backlen = sizeof back;
    ok(wp_rsa_oaep_decrypt(priv, (unsigned char *)cli, n, back, &backlen, &e) == WP_ERR && queue_clean(),
       "altered ciphertext refused: %s", e.msg);
    ok(wp_rsa_oaep_decrypt(priv, (unsigned char *)cli, n - 1, back, &backlen, &e) == WP_ERR && queue_clean(),
       "short ciphertext refused: %s", e.msg);
    cli[10] ^= 0x40;
    backlen = sizeof back;
    ok(wp_rsa_oaep_decrypt(priv, (unsigned char *)cli, n, back, &backlen, &e) == WP_OK &&
           backlen == strlen("sensitive: 张三") && queue_clean(),
       "the prepared context still decrypts after a failure");
    ok(wp_rsa_oaep_decrypt(pub, (unsigned char *)cli, n, back, &backlen, &e) == WP_ERR && queue_clean(),
       "a public key cannot decrypt: %s", e.msg);
    free(cli);
    /* PKCS#1 v1.5 encryption by openssl must not decrypt as OAEP. */
    ok(sh("cd %s && openssl pkeyutl -encrypt -pubin -inkey pub.pem -pkeyopt rsa_padding_mode:pkcs1 -in cli.pt -out "
          "v15.ct",
          dir),
       "openssl pkeyutl -encrypt (pkcs1 v1.5)");
    cli = slurp("v15.ct", &n);
    backlen = sizeof back;
    ok(wp_rsa_oaep_decrypt(priv, (unsigned char *)cli, n, back, &backlen, &e) == WP_ERR && queue_clean(),
       "PKCS#1 v1.5 ciphertext is refused: %s", e.msg);
    free(cli);
    wp_key_free(pub);
    wp_key_free(priv);
    wp_key_free(cert);
}

static void test_gcm(void)
{
    static const unsigned char key[] = "0123456789abcdef0123456789abcdef", iv[] = "0123456789ab";
    /* base64 8cyLViwuyN4D6+jaX5Ea+OGy5PP9 (apiv3-protocol.md §9) */
    static const unsigned char expect[21] = {0xf1, 0xcc, 0x8b, 0x56, 0x2c, 0x2e, 0xc8, 0xde, 0x03, 0xeb, 0xe8,
                                             0xda, 0x5f, 0x91, 0x1a, 0xf8, 0xe1, 0xb2, 0xe4, 0xf3, 0xfd};
    unsigned char out[64], pt[64], big[4096], bigct[4096 + 16], bigpt[4096];
    wp_err e;
    size_t i;
    int all = 1;

    queue_arm();
    ok(wp_gcm_encrypt(key, iv, 12, (const unsigned char *)"certificate", 11, (const unsigned char *)"hello", 5, out,
                      &e) == WP_OK &&
           memcmp(out, expect, 21) == 0,
       "GCM known answer (§9)");
    memset(pt, 'X', sizeof pt);
    ok(wp_gcm_decrypt(key, iv, 12, (const unsigned char *)"certificate", 11, expect, 21, pt, &e) == WP_OK &&
           memcmp(pt, "hello", 5) == 0,
       "GCM known answer decrypts");
    memset(pt, 'X', sizeof pt);
    ok(wp_gcm_decrypt(key, iv, 12, (const unsigned char *)"transaction", 11, expect, 21, pt, &e) == WP_MISMATCH &&
           memcmp(pt, "\0\0\0\0\0", 5) == 0,
       "wrong AAD: mismatch, output zeroed");
    for (i = 0; i < 21; i++) {
        unsigned char alt[21];
        memcpy(alt, expect, 21);
        alt[i] ^= 0x01;
        memset(pt, 'X', sizeof pt);
        if (wp_gcm_decrypt(key, iv, 12, (const unsigned char *)"certificate", 11, alt, 21, pt, &e) != WP_MISMATCH ||
            memcmp(pt, "\0\0\0\0\0", 5) != 0)
            all = 0;
    }
    ok(all, "every single altered byte: mismatch");
    ok(wp_gcm_decrypt(key, iv, 12, (const unsigned char *)"certificate", 11, expect, 20, pt, &e) == WP_MISMATCH,
       "last byte removed: mismatch");
    ok(wp_gcm_decrypt(key, iv, 12, (const unsigned char *)"certificate", 11, expect, 15, pt, &e) == WP_ERR,
       "shorter than the tag: error: %s", e.msg);
    ok(wp_gcm_decrypt(key, (const unsigned char *)"0123456789ac", 12, (const unsigned char *)"certificate", 11, expect,
                      21, pt, &e) == WP_MISMATCH,
       "wrong IV: mismatch");
    ok(queue_clean(), "error queue clean after GCM failures");
    /* empty plaintext and empty AAD; a 4 KiB round trip; a 16-byte IV */
    ok(wp_gcm_encrypt(key, iv, 12, NULL, 0, NULL, 0, out, &e) == WP_OK &&
           wp_gcm_decrypt(key, iv, 12, NULL, 0, out, 16, NULL, &e) == WP_OK,
       "empty plaintext, empty AAD");
    for (i = 0; i < sizeof big; i++) big[i] = (unsigned char)(i * 31);
    ok(wp_gcm_encrypt(key, (const unsigned char *)"0123456789abcdef", 16, big, 100, big, sizeof big, bigct, &e) ==
               WP_OK &&
           wp_gcm_decrypt(key, (const unsigned char *)"0123456789abcdef", 16, big, 100, bigct, sizeof bigct, bigpt,
                          &e) == WP_OK &&
           memcmp(big, bigpt, sizeof big) == 0,
       "4 KiB round trip with a 16-byte IV");
    /* GCM with a 12-byte IV encrypts with AES-CTR from the counter block
     * IV || 00000002: cross-check the ciphertext bytes with `openssl enc`. */
    ok(wp_gcm_encrypt(key, iv, 12, NULL, 0, big, sizeof big, bigct, &e) == WP_OK, "4 KiB with a 12-byte IV");
    spit("gcm.pt", big, sizeof big);
    spit("gcm.ct", bigct, sizeof big);
    {
        char khex[65], ivhex[33];
        hex(key, 32, khex);
        hex(iv, 12, ivhex);
        ok(sh("cd %s && openssl enc -aes-256-ctr -K %s -iv %s00000002 -in gcm.pt -out gcm.cli && cmp -s gcm.cli gcm.ct",
              dir, khex, ivhex),
           "ciphertext equals openssl enc -aes-256-ctr from counter 2");
    }
    ok(wp_gcm_encrypt(key, iv, 0, NULL, 0, big, 1, bigct, &e) == WP_ERR, "IV length 0 refused: %s", e.msg);
    ok(queue_clean(), "error queue clean");
}

static void test_serial(void)
{
    static const char *certs[] = {"cert.pem", "cert10.pem", "certhi.pem"};
    size_t i;
    for (i = 0; i < 3; i++) {
        char hexs[128], cli[256], path[128];
        size_t len;
        char *pem = slurp(certs[i], &len), *p;
        FILE *f;
        wp_err e;
        snprintf(path, sizeof path, "cd %s && openssl x509 -in %s -noout -serial", dir, certs[i]);
        f = popen(path, "r");
        if (f == NULL || fgets(cli, sizeof cli, f) == NULL) cli[0] = '\0';
        if (f) pclose(f);
        if ((p = strchr(cli, '\n')) != NULL) *p = '\0';
        queue_arm();
        ok(wp_cert_serial(pem, len, hexs, sizeof hexs, &e) == WP_OK && strncmp(cli, "serial=", 7) == 0 &&
               strcmp(hexs, cli + 7) == 0 && queue_clean(),
           "%s: serial %s equals openssl's %s", certs[i], hexs, cli);
        ok(wp_cert_serial(pem, len, hexs, strlen(cli + 7), &e) == WP_ERR && queue_clean(),
           "%s: a buffer without room for the NUL is refused: %s", certs[i], e.msg);
        free(pem);
    }
    {
        size_t len;
        char *pem = slurp("pub.pem", &len), hexs[64];
        wp_err e;
        ok(wp_cert_serial(pem, len, hexs, sizeof hexs, &e) == WP_ERR && queue_clean(), "not a certificate: %s", e.msg);
        free(pem);
    }
}

static void test_random_digest(void)
{
    unsigned char a[32], b[32], d[32], s1[20];
    char h[65], cli[256];
    wp_err e;
    int pipefd[2], i, distinct = 1;
    unsigned char kids[2][32], parent_next[32];
    FILE *f;

    queue_arm();
    ok(wp_random(a, 32, &e) == WP_OK && wp_random(b, 32, &e) == WP_OK && memcmp(a, b, 32) != 0, "random differs");
    ok(wp_random(a, 0, &e) == WP_OK, "random 0 bytes");
    /* fork: used before the fork, both children and the parent must differ */
    if (pipe(pipefd) != 0) exit(2);
    for (i = 0; i < 2; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            unsigned char c[32];
            wp_err ce;
            if (wp_random(c, 32, &ce) != WP_OK || write(pipefd[1], c, 32) != 32) _exit(1);
            _exit(0);
        }
        waitpid(pid, NULL, 0);
        if (read(pipefd[0], kids[i], 32) != 32) distinct = 0;
    }
    wp_random(parent_next, 32, &e);
    close(pipefd[0]);
    close(pipefd[1]);
    ok(distinct && memcmp(kids[0], kids[1], 32) != 0 && memcmp(kids[0], parent_next, 32) != 0 &&
           memcmp(kids[1], parent_next, 32) != 0,
       "fork: children and parent draw different bytes");
#ifdef WP_HARNESS_OPENSSL
    {
        /* the atfork hardening (random.c): a child's first draw through the
         * backend reseeds the primary DRBG from the OS even when OpenSSL's
         * own getpid() check has already run in that child (it is what
         * covers a recycled pid); the parent's draws do not */
        unsigned int before = primary_reseeds(), after;
        int status = 0;
        pid_t pid;
        wp_random(a, 32, &e);
        after = primary_reseeds();
        ok(before > 0 && after == before, "parent: no extra reseed of the primary DRBG (%u)", before);
        pid = fork();
        if (pid == 0) {
            unsigned int b0, b1;
            wp_err ce;
            if (RAND_bytes(a, 32) != 1) _exit(2); /* OpenSSL's own fork check */
            b0 = primary_reseeds();
            if (wp_random(a, 32, &ce) != WP_OK) _exit(2);
            b1 = primary_reseeds();
            _exit(b1 > b0 ? 0 : 1);
        }
        waitpid(pid, &status, 0);
        ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "fork: the child's first draw reseeds the primary DRBG");
    }
#endif

    wp_sha256((const unsigned char *)MSG, sizeof MSG - 1, d);
    hex(d, 32, h);
    snprintf(cli, sizeof cli, "cd %s && openssl dgst -sha256 -r msg.txt", dir);
    f = popen(cli, "r");
    if (f == NULL || fgets(cli, sizeof cli, f) == NULL) cli[0] = '\0';
    if (f) pclose(f);
    ok(strncmp(cli, h, 64) == 0, "sha256 equals openssl dgst: %s", h);
    wp_sha1((const unsigned char *)MSG, sizeof MSG - 1, s1);
    hex(s1, 20, h);
    snprintf(cli, sizeof cli, "cd %s && openssl dgst -sha1 -r msg.txt", dir);
    f = popen(cli, "r");
    if (f == NULL || fgets(cli, sizeof cli, f) == NULL) cli[0] = '\0';
    if (f) pclose(f);
    ok(strncmp(cli, h, 40) == 0, "sha1 equals openssl dgst: %s", h);
    wp_sha256(NULL, 0, d);
    hex(d, 32, h);
    ok(strcmp(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") == 0, "sha256 of empty input");
    ok(queue_clean(), "error queue clean");
}

/* ---- micro-benchmark -------------------------------------------------------------- */
static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void bench(int n)
{
    wp_err e;
    wp_key *k = load_pem("key.pem", WP_KEY_PRIVATE, NULL, &e), *pub = load_pem("pub.pem", WP_KEY_PUBLIC, NULL, &e);
    unsigned char sig[WP_RSA_MAX_BYTES], buf[1024 + 16], key[32] = {1}, iv[12] = {2};
    size_t siglen;
    double *t = malloc(sizeof(double) * (size_t)n), t0;
    int i;
    size_t klen;
    char *pem = slurp("key.pem", &klen);

    t0 = now();
    wp_key_free(load_pem("key.pem", WP_KEY_PRIVATE, NULL, &e));
    printf("# load private PEM (incl. warm-up): %.1f us\n", (now() - t0) * 1e6);
    {
        wp_key *k2 = NULL;
        wp_key_from_pem(&k2, WP_KEY_PRIVATE, pem, klen, NULL, 0, &e);
        siglen = sizeof sig;
        t0 = now();
        wp_rsa_sign(k2, (const unsigned char *)MSG, sizeof MSG - 1, sig, &siglen, &e);
        printf("# first sign after load: %.1f us\n", (now() - t0) * 1e6);
        wp_key_free(k2);
    }
    free(pem);
#define MEDIAN(label, stmt)                                      \
    do {                                                         \
        for (i = 0; i < n; i++) {                                \
            t0 = now();                                          \
            stmt;                                                \
            t[i] = now() - t0;                                   \
        }                                                        \
        qsort(t, (size_t)n, sizeof *t, cmp_d);                   \
        printf("# %-28s median %8.2f us\n", label, t[n / 2] * 1e6); \
    } while (0)
    MEDIAN("sign (727-ish B msg)", (siglen = sizeof sig, wp_rsa_sign(k, (const unsigned char *)MSG, sizeof MSG - 1, sig, &siglen, &e)));
    MEDIAN("verify", wp_rsa_verify(pub, (const unsigned char *)MSG, sizeof MSG - 1, sig, siglen));
    MEDIAN("gcm encrypt 1 KiB", wp_gcm_encrypt(key, iv, 12, iv, 12, buf, 1024, buf, &e));
    MEDIAN("random 32 B", wp_random(buf, 32, &e));
    MEDIAN("sha256 1 KiB", wp_sha256(buf, 1024, key));
    free(t);
    wp_key_free(k);
    wp_key_free(pub);
}

int main(int argc, char **argv)
{
    int nbench = 0;
    if (argc > 2 && strcmp(argv[1], "--bench") == 0) nbench = atoi(argv[2]);
    snprintf(dir, sizeof dir, "/tmp/wp-harness-XXXXXX");
    if (mkdtemp(dir) == NULL) return 2;
    test_init();
    gen_keys();
    if (nbench > 0) {
        bench(nbench);
    } else {
        test_sign_forms();
        test_our_sig_verifies_with_cli();
        test_verify_forms();
        test_bad_keys();
        test_oaep();
        test_gcm();
        test_serial();
        test_random_digest();
    }
    sh("rm -rf %s", dir);
    printf("1..%d\n", ntest);
    if (nbench == 0) printf("# %d passed, %d failed\n", ntest - nfail, nfail);
#ifdef WP_HARNESS_OPENSSL
    OPENSSL_cleanup();
#endif
    return nfail != 0;
}
