/*
 * Optional compiled fast path of waypost.indexer.wire: skim a serialised Namecoin block.
 *
 * scan_block(raw, legacy) walks the header, the AuxPoW (when the version has 0x100) and
 * every transaction, computes each txid, checks the merkle root (with bitcoin's
 * CVE-2012-2459 "mutated" test) and returns
 *
 *     (header_end, block_hash, txids, candidates)
 *
 * header_end: offset of the transaction count (raw[:header_end] is header + AuxPoW);
 * block_hash: sha256d of the 80-byte header (wire order);
 * txids: the txids concatenated, 32 bytes each, in block order;
 * candidates: ((tx_index, start, end, version, segwit, txid, spent, scripts), ...) of the
 *     transactions that may carry name outputs: version 0x7100, and with ``legacy`` also
 *     non-coinbase transactions with an output script starting with OP_1 (namecoin's
 *     historic name_new bug); spent is ((prev_txid, prev_vout), ...), scripts the output
 *     scripts in order.
 *
 * It returns None whenever the block is anything but well formed and consistent: the
 * caller then runs the pure-Python parser, which raises the precise typed error.  So
 * every check here is at least as strict as wire.py's (canonical var-ints <= MAX_SIZE,
 * count bounds, BIP144 marker/flag, superfluous witness, trailing bytes, merkle root).
 *
 * merkle_branches(txids, indices) is wire.merkle_branches over concatenated txids.
 *
 * Hashing uses OpenSSL's SHA-256 block functions (the library CPython's hashlib uses).
 */
#define PY_SSIZE_T_CLEAN
#define OPENSSL_SUPPRESS_DEPRECATED
#include <Python.h>
#include <openssl/sha.h>
#include <stdint.h>
#include <string.h>

#define MAX_SIZE 0x02000000u
#define VERSION_AUXPOW 0x100u
#define NAMECOIN_TX_VERSION 0x7100u

static void sha256d(const unsigned char *a, size_t na, const unsigned char *b, size_t nb,
                    const unsigned char *c, size_t nc, unsigned char out[32]) {
    SHA256_CTX ctx;
    unsigned char first[32];
    SHA256_Init(&ctx);
    SHA256_Update(&ctx, a, na);
    if (nb) SHA256_Update(&ctx, b, nb);
    if (nc) SHA256_Update(&ctx, c, nc);
    SHA256_Final(first, &ctx);
    SHA256_Init(&ctx);
    SHA256_Update(&ctx, first, 32);
    SHA256_Final(out, &ctx);
}

static uint32_t le32(const unsigned char *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

/* bitcoin ReadCompactSize: canonical, <= MAX_SIZE. Returns 0 on any failure. */
static int read_varint(const unsigned char *buf, size_t n, size_t *p, uint64_t *out) {
    size_t q = *p;
    uint64_t v, min;
    if (q >= n) return 0;
    unsigned char first = buf[q];
    if (first < 0xFD) {
        *out = first;
        *p = q + 1;
        return 1;
    }
    if (first == 0xFD) {
        if (n - q < 3) return 0;
        v = (uint64_t)buf[q + 1] | ((uint64_t)buf[q + 2] << 8);
        q += 3;
        min = 0xFD;
    } else if (first == 0xFE) {
        if (n - q < 5) return 0;
        v = le32(buf + q + 1);
        q += 5;
        min = 0x10000;
    } else {
        if (n - q < 9) return 0;
        v = (uint64_t)le32(buf + q + 1) | ((uint64_t)le32(buf + q + 5) << 32);
        q += 9;
        min = 0x100000000ull;
    }
    if (v < min || v > MAX_SIZE) return 0;
    *out = v;
    *p = q;
    return 1;
}

/* Advance over a var-bytes field. */
static int skip_bytes(const unsigned char *buf, size_t n, size_t *p) {
    uint64_t len;
    if (!read_varint(buf, n, p, &len)) return 0;
    if (len > n - *p) return 0;
    *p += (size_t)len;
    return 1;
}

/* A count whose items need at least ``min_item`` bytes each (wire._read_count). */
static int read_count(const unsigned char *buf, size_t n, size_t *p, uint64_t min_item, uint64_t *out) {
    if (!read_varint(buf, n, p, out)) return 0;
    if (*out * min_item > n - *p) return 0;
    return 1;
}

typedef struct {
    size_t start, end, outputs_at, body_start, body_end;
    int segwit;
    uint32_t version;
} TxSpan;

/* wire._skim_tx, at least as strict. */
static int skim_tx(const unsigned char *buf, size_t n, size_t pos, TxSpan *tx) {
    size_t p = pos;
    uint64_t n_in, n_out, i, j, items;
    if (p > n || n - p < 4) return 0;
    tx->start = pos;
    tx->version = le32(buf + p);
    p += 4;
    if (p >= n) return 0;
    tx->segwit = buf[p] == 0 && p + 1 < n;
    if (tx->segwit) {
        if (buf[p + 1] != 1) return 0;
        p += 2;
    }
    tx->body_start = p;
    if (!read_count(buf, n, &p, 41, &n_in)) return 0;
    for (i = 0; i < n_in; i++) {
        if (n - p < 36) return 0;
        p += 36;
        if (!skip_bytes(buf, n, &p)) return 0;
        if (n - p < 4) return 0;
        p += 4;
    }
    tx->outputs_at = p;
    if (!read_count(buf, n, &p, 9, &n_out)) return 0;
    for (i = 0; i < n_out; i++) {
        if (n - p < 8) return 0;
        p += 8;
        if (!skip_bytes(buf, n, &p)) return 0;
    }
    tx->body_end = p;
    if (tx->segwit) {
        int any_witness = 0;
        if (n_in == 0) return 0;
        for (i = 0; i < n_in; i++) {
            if (!read_varint(buf, n, &p, &items)) return 0;
            if (items > n - p) return 0;
            if (items) any_witness = 1;
            for (j = 0; j < items; j++) {
                if (!skip_bytes(buf, n, &p)) return 0;
            }
        }
        if (!any_witness) return 0;
    }
    if (n - p < 4) return 0;
    p += 4;
    tx->end = p;
    return 1;
}

/* The candidate tuple (see the top of this file) of a skimmed transaction. */
static PyObject *candidate(const unsigned char *buf, size_t n, const TxSpan *tx, uint64_t index,
                           const unsigned char *txid) {
    size_t p = tx->body_start;
    uint64_t count, i, len;
    PyObject *spent = NULL, *scripts = NULL, *out = NULL;
    if (!read_varint(buf, n, &p, &count)) return PyErr_Format(PyExc_ValueError, "unskimmed tx");
    spent = PyTuple_New((Py_ssize_t)count);
    if (spent == NULL) goto done;
    for (i = 0; i < count; i++) {
        PyObject *prev = Py_BuildValue("(y#k)", (const char *)buf + p, (Py_ssize_t)32, (unsigned long)le32(buf + p + 32));
        if (prev == NULL) goto done;
        PyTuple_SET_ITEM(spent, (Py_ssize_t)i, prev);
        p += 36;
        read_varint(buf, n, &p, &len);
        p += (size_t)len + 4;
    }
    p = tx->outputs_at;
    read_varint(buf, n, &p, &count);
    scripts = PyTuple_New((Py_ssize_t)count);
    if (scripts == NULL) goto done;
    for (i = 0; i < count; i++) {
        p += 8;
        read_varint(buf, n, &p, &len);
        PyObject *script = PyBytes_FromStringAndSize((const char *)buf + p, (Py_ssize_t)len);
        if (script == NULL) goto done;
        PyTuple_SET_ITEM(scripts, (Py_ssize_t)i, script);
        p += (size_t)len;
    }
    out = Py_BuildValue("(KnnkOy#OO)", (unsigned long long)index, (Py_ssize_t)tx->start, (Py_ssize_t)tx->end,
                        (unsigned long)tx->version, tx->segwit ? Py_True : Py_False, (const char *)txid,
                        (Py_ssize_t)32, spent, scripts);
done:
    Py_XDECREF(spent);
    Py_XDECREF(scripts);
    return out;
}

static void txid_of(const unsigned char *buf, const TxSpan *tx, unsigned char out[32]) {
    if (tx->segwit) {
        sha256d(buf + tx->start, 4, buf + tx->body_start, tx->body_end - tx->body_start, buf + tx->end - 4, 4, out);
    } else {
        sha256d(buf + tx->start, tx->end - tx->start, NULL, 0, NULL, 0, out);
    }
}

/* Any output script starting with OP_1 (0x51)? The tx was skimmed, so no bound checks fail. */
static int has_op1_output(const unsigned char *buf, size_t n, const TxSpan *tx) {
    size_t p = tx->outputs_at;
    uint64_t n_out, i, len;
    if (!read_varint(buf, n, &p, &n_out)) return 0;
    for (i = 0; i < n_out; i++) {
        p += 8;
        if (!read_varint(buf, n, &p, &len)) return 0;
        if (len > 0 && buf[p] == 0x51) return 1;
        p += (size_t)len;
    }
    return 0;
}

/* bitcoin ComputeMerkleRoot over ``count`` 32-byte hashes in ``level`` (overwritten). */
static int merkle_root(unsigned char *level, size_t count, unsigned char root[32]) {
    int mutated = 0;
    while (count > 1) {
        size_t i, pairs = (count + 1) / 2;
        for (i = 0; i + 1 < count; i += 2) {
            if (memcmp(level + 32 * i, level + 32 * (i + 1), 32) == 0) mutated = 1;
        }
        for (i = 0; i < pairs; i++) {
            const unsigned char *left = level + 64 * i;
            const unsigned char *right = (2 * i + 1 < count) ? left + 32 : left;
            unsigned char pair[64];
            memcpy(pair, left, 32);
            memcpy(pair + 32, right, 32);
            sha256d(pair, 64, NULL, 0, NULL, 0, level + 32 * i);
        }
        count = pairs;
    }
    memcpy(root, level, 32);
    return mutated;
}

static PyObject *scan_block(PyObject *self, PyObject *args) {
    Py_buffer view;
    int legacy;
    PyObject *result = NULL, *txids = NULL, *cands = NULL, *item = NULL;
    unsigned char *level = NULL;
    if (!PyArg_ParseTuple(args, "y*p", &view, &legacy)) return NULL;
    const unsigned char *buf = (const unsigned char *)view.buf;
    size_t n = (size_t)view.len, p = 0, header_end;
    uint64_t n_tx, i;
    unsigned char hash[32], root[32];
    TxSpan tx;

    if (n < 80) goto none;
    p = 80;
    if (le32(buf) & VERSION_AUXPOW) {
        uint64_t count;
        if (!skim_tx(buf, n, p, &tx)) goto none;
        p = tx.end;
        if (n - p < 32) goto none;
        p += 32;
        if (!read_count(buf, n, &p, 32, &count)) goto none;
        p += 32 * (size_t)count;
        if (n - p < 4) goto none;
        p += 4;
        if (!read_count(buf, n, &p, 32, &count)) goto none;
        p += 32 * (size_t)count;
        if (n - p < 84) goto none;
        p += 84;
    }
    header_end = p;
    if (!read_count(buf, n, &p, 10, &n_tx) || n_tx == 0) goto none;
    txids = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(32 * n_tx));
    cands = PyList_New(0);
    level = PyMem_Malloc(32 * (size_t)n_tx);
    if (txids == NULL || cands == NULL || level == NULL) goto error;
    unsigned char *ids = (unsigned char *)PyBytes_AS_STRING(txids);
    for (i = 0; i < n_tx; i++) {
        if (!skim_tx(buf, n, p, &tx)) goto none;
        txid_of(buf, &tx, ids + 32 * i);
        if (tx.version == NAMECOIN_TX_VERSION || (legacy && i > 0 && has_op1_output(buf, n, &tx))) {
            item = candidate(buf, n, &tx, i, ids + 32 * i);
            if (item == NULL || PyList_Append(cands, item) < 0) goto error;
            Py_CLEAR(item);
        }
        p = tx.end;
    }
    if (p != n) goto none;
    memcpy(level, ids, 32 * (size_t)n_tx);
    if (merkle_root(level, (size_t)n_tx, root)) goto none;
    if (memcmp(root, buf + 36, 32) != 0) goto none;
    sha256d(buf, 80, NULL, 0, NULL, 0, hash);
    result = Py_BuildValue("(ny#OO)", (Py_ssize_t)header_end, (const char *)hash, (Py_ssize_t)32, txids, cands);
    goto done;
none:
    result = Py_None;
    Py_INCREF(result);
    goto done;
error:
    result = NULL;
done:
    Py_XDECREF(item);
    Py_XDECREF(txids);
    Py_XDECREF(cands);
    if (level != NULL) PyMem_Free(level);
    PyBuffer_Release(&view);
    return result;
}

static PyObject *merkle_branches(PyObject *self, PyObject *args) {
    Py_buffer view;
    PyObject *indices, *seq = NULL, *out = NULL;
    unsigned char *tree = NULL;
    size_t *offsets = NULL;
    if (!PyArg_ParseTuple(args, "y*O", &view, &indices)) return NULL;
    if (view.len % 32 != 0 || view.len == 0) {
        PyErr_SetString(PyExc_ValueError, "txids must be a non-empty multiple of 32 bytes");
        goto done;
    }
    size_t count = (size_t)view.len / 32, total = 0, levels = 0, c = count, l, i;
    /* levels (each padded to an even count, as bitcoin duplicates the last node) */
    while (c > 1) {
        total += c + (c & 1);
        c = (c + 1) / 2;
        levels++;
    }
    total += 1;
    tree = PyMem_Malloc(32 * total);
    offsets = PyMem_Malloc(sizeof(size_t) * (levels + 1));
    if (tree == NULL || offsets == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    memcpy(tree, view.buf, 32 * count);
    c = count;
    size_t at = 0;
    for (l = 0; l < levels; l++) {
        offsets[l] = at;
        if (c & 1) {
            memcpy(tree + 32 * (at + c), tree + 32 * (at + c - 1), 32);
            c++;
        }
        size_t next = at + c;
        for (i = 0; i < c / 2; i++) {
            sha256d(tree + 32 * (at + 2 * i), 64, NULL, 0, NULL, 0, tree + 32 * (next + i));
        }
        at = next;
        c /= 2;
    }
    seq = PySequence_Fast(indices, "indices must be a sequence");
    if (seq == NULL) goto done;
    Py_ssize_t k, n_idx = PySequence_Fast_GET_SIZE(seq);
    out = PyList_New(n_idx);
    if (out == NULL) goto done;
    for (k = 0; k < n_idx; k++) {
        Py_ssize_t index = PyLong_AsSsize_t(PySequence_Fast_GET_ITEM(seq, k));
        if (index == -1 && PyErr_Occurred()) goto fail;
        if (index < 0 || (size_t)index >= count) {
            PyErr_SetString(PyExc_IndexError, "leaf index out of range");
            goto fail;
        }
        PyObject *branch = PyTuple_New((Py_ssize_t)levels);
        if (branch == NULL) goto fail;
        PyList_SET_ITEM(out, k, branch);
        size_t idx = (size_t)index;
        for (l = 0; l < levels; l++) {
            PyObject *h = PyBytes_FromStringAndSize((const char *)tree + 32 * (offsets[l] + (idx ^ 1)), 32);
            if (h == NULL) goto fail;
            PyTuple_SET_ITEM(branch, (Py_ssize_t)l, h);
            idx >>= 1;
        }
    }
    goto done;
fail:
    Py_CLEAR(out);
done:
    Py_XDECREF(seq);
    if (tree != NULL) PyMem_Free(tree);
    if (offsets != NULL) PyMem_Free(offsets);
    PyBuffer_Release(&view);
    return out;
}

/* bitcoin base58 of payload + first 4 bytes of sha256d(payload) (EncodeBase58Check). */
static PyObject *base58check(PyObject *self, PyObject *args) {
    static const char digits[] = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    Py_buffer view;
    if (!PyArg_ParseTuple(args, "y*", &view)) return NULL;
    if (view.len > 128) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, "payload longer than 128 bytes");
        return NULL;
    }
    unsigned char data[132], hash[32], b58[200];
    size_t len = (size_t)view.len, i, zeros = 0, size, length, j;
    memcpy(data, view.buf, len);
    PyBuffer_Release(&view);
    sha256d(data, len, NULL, 0, NULL, 0, hash);
    memcpy(data + len, hash, 4);
    len += 4;
    while (zeros < len && data[zeros] == 0) zeros++;
    /* bitcoin base58.cpp EncodeBase58: log(256)/log(58) < 138/100 */
    size = (len - zeros) * 138 / 100 + 1;
    memset(b58, 0, size);
    length = 0;
    for (i = zeros; i < len; i++) {
        int carry = data[i];
        size_t done = 0;
        for (j = size; (carry != 0 || done < length) && j > 0; j--, done++) {
            carry += 256 * b58[j - 1];
            b58[j - 1] = (unsigned char)(carry % 58);
            carry /= 58;
        }
        length = done;
    }
    j = size - length;
    while (j < size && b58[j] == 0) j++;
    char out[300];
    size_t k = 0;
    for (i = 0; i < zeros; i++) out[k++] = '1';
    for (; j < size; j++) out[k++] = digits[b58[j]];
    return PyUnicode_FromStringAndSize(out, (Py_ssize_t)k);
}

static PyMethodDef methods[] = {
    {"base58check", base58check, METH_VARARGS, "Base58Check encoding of a payload (at most 128 bytes)."},
    {"scan_block", scan_block, METH_VARARGS, "Skim a serialised block; None when not well formed."},
    {"merkle_branches", merkle_branches, METH_VARARGS, "Merkle branches of several leaves over concatenated txids."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_wirescan", NULL, -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__wirescan(void) { return PyModule_Create(&module); }
