/* The probe as a CPython extension module (what posix_ipc is): rtshm_probe.run(EXPECT) returns
 * how many of the probe's checks failed. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "probe.h"

static PyObject *run(PyObject *self, PyObject *expect)
{
    (void)self;
    const char *s = PyUnicode_AsUTF8(expect);
    return s ? PyLong_FromLong(rtshm_probe(s)) : NULL;
}

static PyMethodDef methods[] = {{"run", run, METH_O, "Runs the probe; returns failures."},
                                {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "rtshm_probe", NULL, -1, methods,
                                    NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit_rtshm_probe(void)
{
    return PyModule_Create(&module);
}
