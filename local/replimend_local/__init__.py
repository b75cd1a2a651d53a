"""The embedded AWS of replimend (development only: never shipped in the Lambda layer).

Laid out like moto, one package per emulated service, each with its state (``models``), its API
on the wire (``responses``) and its errors (``exceptions``) apart:

* ``s3_replication/``  S3 live replication and its failure events (moto stores configurations only);
* ``batch_operations/`` S3 Batch Operations jobs (S3ReplicateObject), manifests, completion reports;
* ``iam/``             IAM policy evaluation and SimulatePrincipalPolicy;

and around them:

* ``embedded.py``      ``EmbeddedAws``: moto's server on 127.0.0.1 plus the emulators' botocore hooks;
* ``hooks.py``         how emulators attach to botocore sessions in this process;
* ``gateway.py``       the same emulation for callers outside this process (AWS CLI, other boto3),
                       and the control API (the clock);
* ``moto_patches.py``  every use of moto's internals (moto pinned to the version they were written for);
* ``s3_rules.py``      replication rule filters and S3 ARNs, written once;
* ``sam/``             the SAM runtime: template and intrinsics, provisioning (a registry of
                       creators), function invocation, event sources, clock, HTTP serving;
* ``stack.py``         ``local_stack()``: the embedded AWS with template.yaml deployed (the demo,
                       ``replimend local up``, the e2e tests);
* ``serve.py``         serving a stack on real time until SIGINT/SIGTERM (``local up``, ``demo --keep``);
* ``demo/``            ``replimend demo``: scenarios, story, checks, rendering, report.
"""
