/* Integration harness (see harness.h). */
#define _XOPEN_SOURCE 700
#include "harness.h"

#include "config.h"
#include "contracts/contract.h"
#include "core/alloc.h"
#include "core/codec.h"
#include "core/error.h"
#include "core/hash.h"
#include "core/keyfile.h"
#include "genesis.h"
#include "home.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

uint64_t integ_now_ms(void)
{
    struct timespec ts;

    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static const enum tdei_role roles[] = {TDEI_ROLE_MANUFACTURER,
                                       TDEI_ROLE_PLATFORM};

int integ_net_create(struct integ_net *net, size_t members, uint64_t balance,
                     uint64_t block_interval_ms)
{
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    char path[HOME_PATH_MAX];
    struct genesis g;
    struct genesis_member m;
    struct home_identity id;
    struct tdei_keyfile_key key;
    const char *tmp = getenv("TMPDIR");
    FILE *f;
    int rc = 0;

    memset(net, 0, sizeof(*net));
    if (members == 0 || members > INTEG_MEMBERS_MAX) {
        return TDEI_INVAL;
    }
    (void)snprintf(net->dir, sizeof(net->dir), "%s/tdei-integ-XXXXXX",
                   tmp != NULL ? tmp : "/tmp");
    if (mkdtemp(net->dir) == NULL) {
        return TDEI_IOERR;
    }
    memset(&g, 0, sizeof(g));
    (void)snprintf(net->chain_id, sizeof(net->chain_id), "tdei-integ");
    memcpy(g.chain_id, net->chain_id, strlen(net->chain_id) + 1);
    g.time_ms = 1764000000000ull;
    genesis_params_default(&g.params);
    for (size_t i = 0; i < members && rc == 0; i++) {
        enum tdei_role role =
            i == 0 ? TDEI_ROLE_PUBLIC_SERVICE : roles[i % 2];
        (void)snprintf(net->ids[i], sizeof(net->ids[i]), "member-%02zu", i);
        (void)snprintf(net->homes[i], sizeof(net->homes[i]), "%s/%s",
                       net->dir, net->ids[i]);
        rc = home_create(net->homes[i], net->ids[i], role, NULL, &id, errmsg);
        if (rc != 0) {
            break;
        }
        (void)home_key_path(path, net->homes[i], HOME_KEY_OPERATOR);
        rc = tdei_keyfile_load(path, &key, NULL, errmsg);
        if (rc == 0) {
            rc = tdei_keypair_from_secret(&net->ops[i], key.secret);
        }
        tdei_keyfile_key_wipe(&key);
        memset(&m, 0, sizeof(m));
        memcpy(m.id, net->ids[i], strlen(net->ids[i]) + 1);
        m.role = role;
        memcpy(m.node_key, id.node_key, 32);
        memcpy(m.operator_keys[0], id.operator_key, 32);
        m.operator_key_count = 1;
        memcpy(m.encryption_key, id.encryption_key, 32);
        m.validator = i == 0;
        m.balance = balance;
        if (rc == 0) {
            rc = genesis_member_add(&g, &m, errmsg);
        }
        net->members++;
    }
    if (rc == 0) {
        (void)home_path(path, net->homes[0], "genesis.json");
        rc = genesis_save(&g, path, errmsg);
    }
    genesis_free(&g);
    if (rc == 0) {
        struct tdei_config cfg;
        (void)home_path(path, net->homes[0], "config.ini");
        rc = config_load(&cfg, path, errmsg);
        cfg.block_interval_ms = block_interval_ms;
        cfg.empty_block_interval_ms = 0; /* heights follow the txs */
        /* Short consensus timeouts: a node restarted after a kill -9 in
         * the middle of a height finishes it through its timeouts, and
         * the tests kill every few hundred ms. */
        cfg.timeout_propose_ms = 200;
        cfg.timeout_propose_delta_ms = 50;
        cfg.timeout_prevote_ms = 100;
        cfg.timeout_prevote_delta_ms = 50;
        cfg.timeout_precommit_ms = 100;
        cfg.timeout_precommit_delta_ms = 50;
        f = rc == 0 ? fopen(path, "w") : NULL;
        if (rc == 0 && (f == NULL || config_write(&cfg, f) != 0)) {
            rc = TDEI_IOERR;
        }
        if (f != NULL) {
            fclose(f);
        }
    }
    (void)snprintf(net->socket, sizeof(net->socket), "%s/api.sock",
                   net->homes[0]);
    (void)snprintf(net->log, sizeof(net->log), "%s/node.log", net->dir);
    if (rc != 0) {
        fprintf(stderr, "integ: cannot create the network: %s (%s)\n",
                errmsg, tdei_errname(rc));
    }
    return rc;
}

int integ_connect(const struct integ_net *net, struct api_client *client)
{
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    int rc = api_client_connect(client, net->socket, 30000,
                                TDEI_API_FRAME_MAX, errmsg);

    if (rc != 0) {
        fprintf(stderr, "integ: %s\n", errmsg);
    }
    return rc;
}

int integ_status(struct api_client *client, uint64_t *height,
                 uint8_t app_hash[32])
{
    Tdei__Api__Request req = TDEI__API__REQUEST__INIT;
    Tdei__Api__GetStatus get = TDEI__API__GET_STATUS__INIT;
    Tdei__Api__Response *resp = NULL;
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    int rc;

    req.req_case = TDEI__API__REQUEST__REQ_GET_STATUS;
    req.get_status = &get;
    rc = api_client_call(client, &req, &resp, errmsg);
    if (rc == 0 && resp->code != 0) {
        rc = (int)resp->code;
    }
    if (rc == 0) {
        *height = resp->status->height;
        if (app_hash != NULL && resp->status->app_hash.len == 32) {
            memcpy(app_hash, resp->status->app_hash.data, 32);
        }
    }
    api_client_response_free(resp);
    return rc;
}

int integ_node_start(struct integ_net *net, unsigned timeout_ms)
{
    const char *bin = getenv("TDEI_NODE_BIN");
    struct api_client client;
    uint64_t deadline = integ_now_ms() + timeout_ms;
    uint64_t height;
    char errmsg[TDEI_ERRMSG_SIZE];
    pid_t pid;
    int fd;

    if (bin == NULL) {
        fprintf(stderr, "integ: TDEI_NODE_BIN is not set\n");
        return TDEI_INVAL;
    }
    pid = fork();
    if (pid < 0) {
        return TDEI_IOERR;
    }
    if (pid == 0) {
        fd = open(net->log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0) {
            (void)dup2(fd, STDOUT_FILENO);
            (void)dup2(fd, STDERR_FILENO);
            close(fd);
        }
        execl(bin, bin, "--home", net->homes[0], (char *)NULL);
        _exit(127);
    }
    net->pid = pid;
    while (integ_now_ms() < deadline) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            net->pid = 0;
            fprintf(stderr, "integ: tdei-node exited at start; see %s\n",
                    net->log);
            return TDEI_IOERR;
        }
        if (api_client_connect(&client, net->socket, 1000,
                               TDEI_API_FRAME_MAX, errmsg) == 0) {
            int rc = integ_status(&client, &height, NULL);
            api_client_close(&client);
            if (rc == 0) {
                return 0;
            }
        }
        (void)usleep(20000);
    }
    fprintf(stderr, "integ: tdei-node did not answer within %u ms\n",
            timeout_ms);
    (void)integ_node_stop(net, SIGKILL, 5000);
    return TDEI_TIMEOUT;
}

int integ_node_stop(struct integ_net *net, int sig, unsigned timeout_ms)
{
    uint64_t deadline = integ_now_ms() + timeout_ms;
    int status;

    if (net->pid <= 0) {
        return -1;
    }
    (void)kill(net->pid, sig);
    while (integ_now_ms() < deadline) {
        pid_t got = waitpid(net->pid, &status, WNOHANG);
        if (got == net->pid) {
            net->pid = 0;
            if (WIFEXITED(status)) {
                return WEXITSTATUS(status);
            }
            return 128 + WTERMSIG(status);
        }
        (void)usleep(5000);
    }
    (void)kill(net->pid, SIGKILL);
    (void)waitpid(net->pid, &status, 0);
    net->pid = 0;
    return -1;
}

static int rm_one(const char *path, const struct stat *st, int flag,
                  struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void integ_net_destroy(struct integ_net *net)
{
    if (net->pid > 0) {
        (void)integ_node_stop(net, SIGKILL, 5000);
    }
    if (net->dir[0] != '\0' && getenv("TDEI_KEEP") == NULL) {
        (void)nftw(net->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    }
    for (size_t i = 0; i < INTEG_MEMBERS_MAX; i++) {
        tdei_keypair_wipe(&net->ops[i]);
    }
}

int integ_transfer_tx(const struct integ_net *net, size_t from, size_t to,
                      uint64_t amount, uint64_t nonce, uint8_t **tx,
                      size_t *len)
{
    Tdei__TxBody body = TDEI__TX_BODY__INIT;
    Tdei__Transfer transfer = TDEI__TRANSFER__INIT;
    Tdei__Tx msg = TDEI__TX__INIT;
    uint8_t sig[TDEI_SIG_SIZE];
    uint8_t *body_bytes = NULL;
    size_t body_len;
    int rc;

    transfer.to = (char *)(uintptr_t)net->ids[to];
    transfer.amount = amount;
    transfer.memo = (char *)(uintptr_t)"";
    body.version = CODEC_VERSION;
    body.chain_id = (char *)(uintptr_t)net->chain_id;
    body.signer.data = (uint8_t *)(uintptr_t)net->ops[from].pubkey;
    body.signer.len = TDEI_PUBKEY_SIZE;
    body.nonce = nonce;
    body.op_case = TDEI__TX_BODY__OP_TRANSFER;
    body.transfer = &transfer;
    rc = codec_txbody_encode(&body, &body_bytes, &body_len);
    if (rc == 0) {
        rc = tdei_sign_tagged(sig, &net->ops[from], TDEI_TAG_TX, body_bytes,
                              body_len);
    }
    if (rc == 0) {
        msg.body.data = body_bytes;
        msg.body.len = body_len;
        msg.sig.data = sig;
        msg.sig.len = TDEI_SIG_SIZE;
        rc = codec_tx_encode(&msg, tx, len);
    }
    tdei_free(body_bytes);
    return rc;
}

int integ_submit(struct api_client *client, const uint8_t *tx, size_t len,
                 int wait, uint32_t *code, uint32_t *result_code)
{
    Tdei__Api__Request req = TDEI__API__REQUEST__INIT;
    Tdei__Api__SubmitTx submit = TDEI__API__SUBMIT_TX__INIT;
    Tdei__Api__Response *resp = NULL;
    Tdei__TxResult *result = NULL;
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    int rc;

    submit.tx.data = (uint8_t *)(uintptr_t)tx;
    submit.tx.len = len;
    submit.wait = wait != 0;
    submit.timeout_ms = 60000;
    req.req_case = TDEI__API__REQUEST__REQ_SUBMIT;
    req.submit = &submit;
    rc = api_client_call(client, &req, &resp, errmsg);
    if (rc != 0) {
        return rc;
    }
    *code = resp->code;
    if (result_code != NULL) {
        *result_code = UINT32_MAX;
        if (resp->code == 0 && wait && resp->submit->result.len > 0 &&
            codec_txresult_decode(&result, resp->submit->result.data,
                                  resp->submit->result.len, errmsg) == 0) {
            *result_code = result->code;
            codec_txresult_free(result);
        }
    }
    api_client_response_free(resp);
    return 0;
}

int integ_balance(struct api_client *client, const char *id,
                  uint64_t *balance)
{
    Tdei__Api__Request req = TDEI__API__REQUEST__INIT;
    Tdei__Api__GetAccount get = TDEI__API__GET_ACCOUNT__INIT;
    Tdei__Api__Response *resp = NULL;
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    int rc;

    get.member = (char *)(uintptr_t)id;
    req.req_case = TDEI__API__REQUEST__REQ_GET_ACCOUNT;
    req.get_account = &get;
    rc = api_client_call(client, &req, &resp, errmsg);
    if (rc == 0 && resp->code != 0) {
        rc = (int)resp->code;
    }
    if (rc == 0) {
        *balance = resp->account->balance;
    }
    api_client_response_free(resp);
    return rc;
}

int integ_committed_nonce(struct api_client *client,
                          const struct integ_net *net, size_t m,
                          uint64_t *nonce)
{
    Tdei__Api__Request req = TDEI__API__REQUEST__INIT;
    Tdei__Api__GetObject get = TDEI__API__GET_OBJECT__INIT;
    Tdei__Api__Response *resp = NULL;
    Tdei__OperatorKey *opkey = NULL;
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    int rc;

    get.key.data = key;
    get.key.len = contract_key_opkey(key, net->ops[m].pubkey);
    req.req_case = TDEI__API__REQUEST__REQ_GET_OBJECT;
    req.get_object = &get;
    rc = api_client_call(client, &req, &resp, errmsg);
    if (rc == 0 && resp->code != 0) {
        rc = (int)resp->code;
    }
    if (rc == 0) {
        rc = codec_operator_key_decode(&opkey, resp->object->value.data,
                                       resp->object->value.len, errmsg);
    }
    if (rc == 0) {
        *nonce = opkey->nonce;
    }
    codec_operator_key_free(opkey);
    api_client_response_free(resp);
    return rc;
}
