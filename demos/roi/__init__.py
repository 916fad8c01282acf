"""ROIPool against ROIAlign on a real feature map.

pooling: feature maps, what each operator reads, shifts and localisation (no Gradio);
plots: the pictures and plots; ui: the tab.
"""
