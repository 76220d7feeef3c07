"""Build of the optional compiled fast path (everything else is in pyproject.toml).

``waypost.indexer._wirescan`` skims blocks and computes txids and merkle roots in C with
OpenSSL's SHA-256 (the library CPython's hashlib links). It is optional: without a C
compiler or the OpenSSL headers the build goes on and ``wire.py`` parses in Python, with
the same answers (tests/property/test_wirescan.py compares the two).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "waypost.indexer._wirescan",
            sources=["waypost/indexer/_wirescan.c"],
            libraries=["crypto"],
            extra_compile_args=["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
            optional=True,
        )
    ]
)
