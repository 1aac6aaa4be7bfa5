"""Runs inside LocalStack's own virtualenv: LocalStack's runtime, with its S3 files where we say.

LocalStack's S3 keeps object data under a fixed /tmp/localstack-s3-storage; everything else it writes
follows FILESYSTEM_ROOT and TMPDIR. This puts S3 under DEERTRACK_LOCALSTACK_S3_DIR too, so one
directory holds all of it. It imports nothing of deertrack (a different interpreter runs it).
"""

import os
import sys


def main() -> None:
    try:  # end with the stack that started us, even when it is killed hard
        import ctypes
        import signal

        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass
    if str(os.getppid()) != os.environ.get("DEERTRACK_PARENT_PID", str(os.getppid())):
        sys.exit(0)  # the stack is already gone
    from localstack.services.s3 import provider

    provider.DEFAULT_S3_TMP_DIR = os.environ["DEERTRACK_LOCALSTACK_S3_DIR"]
    from localstack.runtime.main import main as localstack_main

    localstack_main()


if __name__ == "__main__":
    sys.exit(main())
