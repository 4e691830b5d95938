/*
 * A milter that does nothing, for benches/milter_throughput.sh: Sendmail's
 * own libmilter (C, a thread per connection), asking Postfix for the same
 * steps as Sluice's milter (headers and body, no reply to connect, HELO,
 * RCPT, headers, end of headers and body chunks; no DATA or unknown
 * commands; the steps without a reply return SMFIS_NOREPLY, as libmilter
 * asks) and answering each message as Sluice answers a clean one: one
 * header inserted at the top, then accept. What Postfix and the protocol
 * cost with any milter at all is measured with it; what Sluice adds is the
 * difference.
 *
 *   gcc -O2 -o null_milter benches/null_milter.c -lmilter -lpthread
 *   ./null_milter unix:/path/to/socket
 *
 * Needs Debian's libmilter-dev. Not part of Sluice: a benchmark's yardstick.
 */
#include <libmilter/mfapi.h>
#include <stdio.h>
#include <stdlib.h>

static sfsistat on_negotiate(SMFICTX *ctx, unsigned long actions, unsigned long flags,
                             unsigned long f2, unsigned long f3, unsigned long *want_actions,
                             unsigned long *want_flags, unsigned long *want_f2,
                             unsigned long *want_f3) {
    (void)ctx;
    (void)f2;
    (void)f3;
    /* The flags Sluice negotiates (crates/milter/src/server.rs, step). */
    unsigned long wanted = SMFIP_NOUNKNOWN | SMFIP_NODATA | SMFIP_HDR_LEADSPC | SMFIP_NR_HDR |
                           SMFIP_NR_CONN | SMFIP_NR_HELO | SMFIP_NR_RCPT | SMFIP_NR_EOH |
                           SMFIP_NR_BODY;
    *want_actions = actions & SMFIF_ADDHDRS;
    *want_flags = flags & wanted;
    *want_f2 = 0;
    *want_f3 = 0;
    return SMFIS_CONTINUE;
}

static sfsistat on_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *addr) {
    (void)ctx;
    (void)host;
    (void)addr;
    return SMFIS_NOREPLY;
}

static sfsistat on_helo(SMFICTX *ctx, char *helo) {
    (void)ctx;
    (void)helo;
    return SMFIS_NOREPLY;
}

/* MAIL is answered (Sluice answers it too); RCPT is not. */
static sfsistat on_mail(SMFICTX *ctx, char **args) {
    (void)ctx;
    (void)args;
    return SMFIS_CONTINUE;
}

static sfsistat on_rcpt(SMFICTX *ctx, char **args) {
    (void)ctx;
    (void)args;
    return SMFIS_NOREPLY;
}

static sfsistat on_header(SMFICTX *ctx, char *name, char *value) {
    (void)ctx;
    (void)name;
    (void)value;
    return SMFIS_NOREPLY;
}

static sfsistat on_end_of_headers(SMFICTX *ctx) {
    (void)ctx;
    return SMFIS_NOREPLY;
}

static sfsistat on_body(SMFICTX *ctx, unsigned char *chunk, size_t len) {
    (void)ctx;
    (void)chunk;
    (void)len;
    return SMFIS_NOREPLY;
}

static sfsistat on_end_of_message(SMFICTX *ctx) {
    /* Leading space negotiated: the value is taken as it is. */
    smfi_insheader(ctx, 0, "X-Null-Milter", " bench");
    return SMFIS_ACCEPT;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s unix:/path/to/socket | inet:port@host\n", argv[0]);
        return 2;
    }
    struct smfiDesc desc = {
        .xxfi_name = "null",
        .xxfi_version = SMFI_VERSION,
        .xxfi_flags = SMFIF_ADDHDRS,
        .xxfi_connect = on_connect,
        .xxfi_helo = on_helo,
        .xxfi_envfrom = on_mail,
        .xxfi_envrcpt = on_rcpt,
        .xxfi_header = on_header,
        .xxfi_eoh = on_end_of_headers,
        .xxfi_body = on_body,
        .xxfi_eom = on_end_of_message,
        .xxfi_negotiate = on_negotiate,
    };
    if (smfi_setconn(argv[1]) == MI_FAILURE || smfi_register(desc) == MI_FAILURE) {
        fprintf(stderr, "null_milter: cannot set up %s\n", argv[1]);
        return 1;
    }
    /* Removes a stale socket file before listening. */
    if (smfi_opensocket(1) == MI_FAILURE) {
        fprintf(stderr, "null_milter: cannot listen on %s\n", argv[1]);
        return 1;
    }
    return smfi_main() == MI_SUCCESS ? 0 : 1;
}
