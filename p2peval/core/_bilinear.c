/* The two passes of PIL's 8-bit separable resampling, for p2peval.core.resample.
 *
 * p2peval.core.resample computes the filter taps (bounds and fixed-point weights with 22
 * fractional bits) exactly as PIL does and calls these two passes in PIL's order (horizontal, then
 * vertical); each output sample is (2^21 + sum of sample * weight) >> 22 in 32-bit integers,
 * clamped to 0..255, as in PIL. The result equals Image.resize(..., BILINEAR) byte for byte (the
 * tests compare against PIL). The speed comes from the vertical pass, which runs along whole rows
 * (vectorised by the compiler, AVX2 where the CPU has it), and from working on packed RGB.
 *
 * horizontal(src, dst, channels, offset, bounds, weights)
 *   src     : uint8 (H, W*channels) C-contiguous      dst: uint8 (Ht, Wo*channels), written
 *   offset  : first source row used (dst row r is source row r + offset)
 *   bounds  : int32 (Wo, 2): first tap, number of taps     weights: int32 (Wo, ksize)
 * vertical(src, dst, bounds, weights)
 *   src     : uint8 (Ht, N) C-contiguous               dst: uint8 (Ho, N), written
 *   bounds  : int32 (Ho, 2)                            weights: int32 (Ho, ksize)
 * The GIL is released while computing.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>

#define FRAC 22

static inline uint8_t to_u8(int32_t ss) {
    int32_t v = ss >> FRAC;
    return (uint8_t)(v < 0 ? 0 : (v > 255 ? 255 : v));
}

static void pass_h(const uint8_t *src, uint8_t *dst, Py_ssize_t rows, Py_ssize_t w_in, Py_ssize_t w_out,
                   int ch, Py_ssize_t offset, const int32_t *bounds, const int32_t *weights, Py_ssize_t ksize) {
    for (Py_ssize_t y = 0; y < rows; y++) {
        const uint8_t *s = src + (y + offset) * w_in * ch;
        uint8_t *d = dst + y * w_out * ch;
        for (Py_ssize_t x = 0; x < w_out; x++) {
            const int32_t first = bounds[2 * x], taps = bounds[2 * x + 1];
            const int32_t *k = weights + x * ksize;
            const uint8_t *p = s + (Py_ssize_t)first * ch;
            for (int c = 0; c < ch; c++) {
                int32_t ss = 1 << (FRAC - 1);
                for (int32_t t = 0; t < taps; t++)
                    ss += (int32_t)p[t * ch + c] * k[t];
                d[x * ch + c] = to_u8(ss);
            }
        }
    }
}

__attribute__((target_clones("avx2", "default")))
static void pass_v(const uint8_t *src, uint8_t *dst, Py_ssize_t rows_out, Py_ssize_t n,
                   const int32_t *bounds, const int32_t *weights, Py_ssize_t ksize, int32_t *acc) {
    for (Py_ssize_t y = 0; y < rows_out; y++) {
        const int32_t first = bounds[2 * y], taps = bounds[2 * y + 1];
        const int32_t *k = weights + y * ksize;
        uint8_t *d = dst + y * n;
        if (taps == 2) {  /* upsampling: every output row blends two source rows */
            const uint8_t *a = src + (Py_ssize_t)first * n, *b = a + n;
            const int32_t k0 = k[0], k1 = k[1];
            for (Py_ssize_t i = 0; i < n; i++)
                d[i] = to_u8((1 << (FRAC - 1)) + (int32_t)a[i] * k0 + (int32_t)b[i] * k1);
            continue;
        }
        for (Py_ssize_t i = 0; i < n; i++)
            acc[i] = 1 << (FRAC - 1);
        for (int32_t t = 0; t < taps; t++) {
            const uint8_t *s = src + (Py_ssize_t)(first + t) * n;
            const int32_t kt = k[t];
            for (Py_ssize_t i = 0; i < n; i++)
                acc[i] += (int32_t)s[i] * kt;
        }
        for (Py_ssize_t i = 0; i < n; i++)
            d[i] = to_u8(acc[i]);
    }
}

/* Buffers: contiguous, of the given item size and 2 dimensions (writable when asked). */
static int get2d(PyObject *obj, Py_buffer *view, Py_ssize_t itemsize, int writable, const char *what) {
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, view, flags) < 0)
        return -1;
    if (view->ndim != 2 || view->itemsize != itemsize) {
        PyErr_Format(PyExc_ValueError, "%s: expected a 2-D array of %zd-byte items", what, itemsize);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

static int check_taps(Py_buffer *bounds, Py_buffer *weights, Py_ssize_t rows, Py_ssize_t src_len) {
    const int32_t *b = (const int32_t *)bounds->buf;
    if (bounds->shape[0] != rows || bounds->shape[1] != 2 || weights->shape[0] != rows) {
        PyErr_SetString(PyExc_ValueError, "bounds/weights do not match the output size");
        return -1;
    }
    for (Py_ssize_t i = 0; i < rows; i++) {
        if (b[2 * i] < 0 || b[2 * i + 1] < 0 || b[2 * i + 1] > weights->shape[1] ||
            (Py_ssize_t)b[2 * i] + b[2 * i + 1] > src_len) {
            PyErr_SetString(PyExc_ValueError, "filter taps outside the source");
            return -1;
        }
    }
    return 0;
}

static PyObject *horizontal(PyObject *self, PyObject *args) {
    PyObject *o_src, *o_dst, *o_bounds, *o_weights;
    int ch;
    Py_ssize_t offset;
    Py_buffer src, dst, bounds, weights;
    if (!PyArg_ParseTuple(args, "OOinOO", &o_src, &o_dst, &ch, &offset, &o_bounds, &o_weights))
        return NULL;
    if (get2d(o_src, &src, 1, 0, "src") < 0)
        return NULL;
    if (get2d(o_dst, &dst, 1, 1, "dst") < 0)
        goto e1;
    if (get2d(o_bounds, &bounds, 4, 0, "bounds") < 0)
        goto e2;
    if (get2d(o_weights, &weights, 4, 0, "weights") < 0)
        goto e3;
    if (ch < 1 || src.shape[1] % ch || dst.shape[1] % ch || offset < 0 ||
        offset + dst.shape[0] > src.shape[0]) {
        PyErr_SetString(PyExc_ValueError, "horizontal: shapes do not fit");
        goto e4;
    }
    Py_ssize_t w_in = src.shape[1] / ch, w_out = dst.shape[1] / ch;
    if (check_taps(&bounds, &weights, w_out, w_in) < 0)
        goto e4;
    Py_BEGIN_ALLOW_THREADS
    pass_h((const uint8_t *)src.buf, (uint8_t *)dst.buf, dst.shape[0], w_in, w_out, ch, offset,
           (const int32_t *)bounds.buf, (const int32_t *)weights.buf, weights.shape[1]);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&weights);
    PyBuffer_Release(&bounds);
    PyBuffer_Release(&dst);
    PyBuffer_Release(&src);
    Py_RETURN_NONE;
e4:
    PyBuffer_Release(&weights);
e3:
    PyBuffer_Release(&bounds);
e2:
    PyBuffer_Release(&dst);
e1:
    PyBuffer_Release(&src);
    return NULL;
}

static PyObject *vertical(PyObject *self, PyObject *args) {
    PyObject *o_src, *o_dst, *o_bounds, *o_weights;
    Py_buffer src, dst, bounds, weights;
    int32_t *acc = NULL;
    if (!PyArg_ParseTuple(args, "OOOO", &o_src, &o_dst, &o_bounds, &o_weights))
        return NULL;
    if (get2d(o_src, &src, 1, 0, "src") < 0)
        return NULL;
    if (get2d(o_dst, &dst, 1, 1, "dst") < 0)
        goto e1;
    if (get2d(o_bounds, &bounds, 4, 0, "bounds") < 0)
        goto e2;
    if (get2d(o_weights, &weights, 4, 0, "weights") < 0)
        goto e3;
    if (src.shape[1] != dst.shape[1]) {
        PyErr_SetString(PyExc_ValueError, "vertical: rows of different lengths");
        goto e4;
    }
    if (check_taps(&bounds, &weights, dst.shape[0], src.shape[0]) < 0)
        goto e4;
    acc = malloc(sizeof(int32_t) * (size_t)(src.shape[1] > 0 ? src.shape[1] : 1));
    if (!acc) {
        PyErr_NoMemory();
        goto e4;
    }
    Py_BEGIN_ALLOW_THREADS
    pass_v((const uint8_t *)src.buf, (uint8_t *)dst.buf, dst.shape[0], dst.shape[1],
           (const int32_t *)bounds.buf, (const int32_t *)weights.buf, weights.shape[1], acc);
    Py_END_ALLOW_THREADS
    free(acc);
    PyBuffer_Release(&weights);
    PyBuffer_Release(&bounds);
    PyBuffer_Release(&dst);
    PyBuffer_Release(&src);
    Py_RETURN_NONE;
e4:
    PyBuffer_Release(&weights);
e3:
    PyBuffer_Release(&bounds);
e2:
    PyBuffer_Release(&dst);
e1:
    PyBuffer_Release(&src);
    return NULL;
}

static PyMethodDef methods[] = {
    {"horizontal", horizontal, METH_VARARGS, "Horizontal pass of 8-bit separable resampling."},
    {"vertical", vertical, METH_VARARGS, "Vertical pass of 8-bit separable resampling."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_bilinear", NULL, -1, methods};

PyMODINIT_FUNC PyInit__bilinear(void) { return PyModule_Create(&module); }
