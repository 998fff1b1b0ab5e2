"""Run one job on a manager of a Pulsar server with Pulsar's own client (bench section 8).

`pulsar-run` cannot do it: it never passes its --manager on to a REST client, so every job
would go to the default manager. The job writes when it started (`started`, fetched back into
FOLDER), then sleeps SECONDS. Run by the Python of Pulsar's venv (scripts/pulsar install):

    python -I bench/pulsar_job.py URL TOKEN MANAGER JOB_ID FOLDER SECONDS

(-I: bench/ must not come first on sys.path, where its galaxy.py would hide Galaxy's.)
"""

import fnmatch
import sys

from pulsar.client.manager import build_client_manager
from pulsar.client.staging.down import finish_job
from pulsar.client.staging.models import ClientJobDescription, ClientOutputs, PulsarOutputs
from pulsar.client.staging.up import submit_job
from pulsar.client.test.check import Waiter


def main() -> int:
    url, token, manager, job_id, folder, seconds = sys.argv[1:]
    client_manager = build_client_manager()
    try:
        client = client_manager.get_client(
            {"url": url, "private_token": token, "manager": manager}, job_id
        )
        outputs = ClientOutputs(
            working_directory=folder, dynamic_outputs=[fnmatch.translate("started")]
        )
        command = f"date +%s.%N > started; sleep {int(seconds)}"
        submit_job(
            client,
            ClientJobDescription(
                command_line=command, working_directory=folder, client_outputs=outputs
            ),
        )
        status = Waiter(client, client_manager).wait()
        failed = finish_job(
            client=client,
            job_completed_normally=True,
            cleanup_job="always",
            client_outputs=outputs,
            pulsar_outputs=PulsarOutputs.from_status_response(status),
        )
        return 1 if failed else 0
    finally:
        client_manager.shutdown()


if __name__ == "__main__":
    sys.exit(main())
