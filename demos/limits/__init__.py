"""What a perfect detector still misses: ground truth fed through each family's own rules.

scenes: generated crowds and typed boxes, with each object's own (oriented) shape;
rules: NMS and Soft-NMS, the families' input resizing, anchors and assignment;
oracle: the recall ceiling of each family on a scene, and the sweeps behind the plots;
plots: the figures and the pictures of the objects each rule loses; ui: the tab.
"""
