"""Human pose estimation, top-down versus bottom-up, on the same generated scenes.

data: multi-person scenes in the COCO-17 layout; topdown: person detector + heat-map
network on crops; bottomup: heat-maps + part affinity fields and their grouping;
openpose: the published OpenPose body network; inference: `estimate` for the tab;
train / evaluate: the command-line tools; registry: the models the tab can serve.
"""

from . import registry  # noqa: F401  (importing the package registers its models; docs/ARCHITECTURE.md)
