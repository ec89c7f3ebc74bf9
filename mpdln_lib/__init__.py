"""mpdln_lib: multi-pathway deep linear networks in JAX.

The library behind the book that reproduces Kim & Lee, "Gradient Descent with
Large Step Size Restores Symmetry in Deep Linear Networks with Multi-Pathway"
(arXiv:2606.05219, ICML 2026).

Importing it turns on ``jax_enable_x64``: Hessian eigenvalues and the
closed-form comparisons need float64, and the flag must be set before any
array is created. To compute in float32, pass float32 parameters and target
(every routine computes in the dtype of its input).
"""

import jax

jax.config.update("jax_enable_x64", True)

from .curvature import (  # noqa: E402
    DENSE_LIMIT,
    dense_hessian,
    flat_loss,
    hessian_matvec,
    hessian_top_eigenvalues,
    hvp,
    lanczos_top_eigenvalues,
    lanczos_tridiagonal,
    power_iteration,
    sharpness,
)
from .dynamics import (  # noqa: E402
    DEFAULT_DIVERGENCE_THRESHOLD,
    FlowTrajectory,
    Trajectory,
    gradient_descent,
    gradient_descent_batch,
    gradient_flow,
    random_init,
    sweep_gd,
)
from .explorers import LIVE_CLASS, MAX_FRAMES, LivePanel, figure_to_html, frame_explorer, frame_values  # noqa: E402
from .models import (  # noqa: E402
    Network,
    Params,
    Target,
    check_widths,
    end_to_end,
    init_aligned,
    init_from_strengths,
    init_random,
    loss,
    make_target,
    path_product,
    path_products,
    scalar_target,
    target_from_matrix,
)
from .observables import (  # noqa: E402
    effective_pathways,
    invariant_z,
    layer_balance,
    max_imbalance,
    mode_matrices,
    pathway_potential,
    shares,
    strengths,
)
from .regimes import (  # noqa: E402
    Phases,
    Regime,
    classify_run,
    classify_runs,
    locate_phases,
    select_run,
)
from .plotting import (  # noqa: E402
    PALETTE,
    THEORY_STYLE,
    THRESHOLD_STYLE,
    mark_divergence,
    new_figure,
    pathway_color,
    plot_pathways,
    use_book_style,
)
from .theory import (  # noqa: E402
    balanced_sharpness,
    equal_split_sharpness,
    flattest_split,
    gamma_wcr,
    gd_end_strength,
    gf_learning_time,
    gf_limit,
    gf_limit_depths,
    gf_velocity,
    matrix_hessian_spectrum,
    rebalancing_window,
    sharpness_ratio,
    single_path_sharpness,
    worst_case_return_map,
    z_change_per_step,
)

__version__ = "0.1.0"

__all__ = [
    "balanced_sharpness",
    "check_widths",
    "classify_run",
    "classify_runs",
    "DEFAULT_DIVERGENCE_THRESHOLD",
    "dense_hessian",
    "DENSE_LIMIT",
    "effective_pathways",
    "end_to_end",
    "equal_split_sharpness",
    "figure_to_html",
    "flat_loss",
    "flattest_split",
    "FlowTrajectory",
    "frame_explorer",
    "frame_values",
    "gamma_wcr",
    "gd_end_strength",
    "gf_learning_time",
    "gf_limit",
    "gf_limit_depths",
    "gf_velocity",
    "gradient_descent",
    "gradient_descent_batch",
    "gradient_flow",
    "hessian_matvec",
    "hessian_top_eigenvalues",
    "hvp",
    "init_aligned",
    "init_from_strengths",
    "init_random",
    "invariant_z",
    "lanczos_top_eigenvalues",
    "lanczos_tridiagonal",
    "layer_balance",
    "LIVE_CLASS",
    "LivePanel",
    "locate_phases",
    "loss",
    "make_target",
    "mark_divergence",
    "matrix_hessian_spectrum",
    "MAX_FRAMES",
    "max_imbalance",
    "mode_matrices",
    "Network",
    "new_figure",
    "PALETTE",
    "Params",
    "path_product",
    "path_products",
    "pathway_color",
    "pathway_potential",
    "Phases",
    "plot_pathways",
    "power_iteration",
    "random_init",
    "rebalancing_window",
    "Regime",
    "scalar_target",
    "select_run",
    "shares",
    "sharpness",
    "sharpness_ratio",
    "single_path_sharpness",
    "strengths",
    "sweep_gd",
    "Target",
    "target_from_matrix",
    "THEORY_STYLE",
    "THRESHOLD_STYLE",
    "Trajectory",
    "use_book_style",
    "worst_case_return_map",
    "z_change_per_step",
    "__version__",
]
