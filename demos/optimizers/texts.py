"""What the playground writes per request, in English and Simplified Chinese.

Labels and buttons are translated in the browser (shared.i18n, locales/zh-CN.yaml). Texts
computed on the server — plot titles and axes, legend entries, table headers, the step
explanation, the surface descriptions — are built here in the language of the request,
because a figure or a table reaches the browser as data, not as keys to translate. They
live beside their English, with `str.format` fields, which the browser's message format
would not allow in the shared locale file.
"""

from __future__ import annotations

from typing import Any

EN, ZH = "en", "zh-CN"

TEXTS: dict[str, tuple[str, str]] = {
    # contour map, 3-D view, loss curves
    "contour.title": ("{surface}: paths", "{surface}：优化路径"),
    "surface3d.title": ("{surface} in 3-D", "{surface}（三维）"),
    "loss.title": ("f − f* per step", "每一步的 f − f*"),
    "loss.x": ("step", "步数"),
    "loss.y": ("f − f* (log scale)", "f − f*（对数坐标）"),
    "minimum": ("minimum", "最小值"),
    "start": ("start", "起点"),
    "diverged_at": ("{name} (diverged at step {step})", "{name}（第 {step} 步发散）"),
    "diverged_hover": ("{name} diverged", "{name} 发散"),
    "slider.prefix": ("step ", "第 "),
    "slider.suffix": ("", " 步"),
    "play": ("▶ Play", "▶ 播放"),
    "pause": ("❚❚ Pause", "❚❚ 暂停"),
    # one step, up close
    "step.title": (
        "{name}, step {step}: f {before:.4g} → {after:.4g}",
        "{name}，第 {step} 步：f 从 {before:.4g} 到 {after:.4g}",
    ),
    "step.none": ("{name}: no step was taken (diverged at once)", "{name}：一步也没走成（第一步就发散）"),
    "step.path": ("{name} path", "{name} 的路径"),
    "step.point": ("point before step {step}", "第 {step} 步之前的位置"),
    "arrow.raw_step": ("−lr × gradient (plain GD step)", "−lr × 梯度（普通梯度下降的一步）"),
    "arrow.momentum_step": ("−lr × momentum", "−lr × 动量"),
    "arrow.update": ("actual step", "实际的一步"),
    "arrow.length": ("{name} (length {length:.2g})", "{name}（长度 {length:.2g}）"),
    "step.heading": (
        "**{name}, step {step}** from ({x0:.4g}, {y0:.4g}) to ({x1:.4g}, {y1:.4g})",
        "**{name}，第 {step} 步**：从 ({x0:.4g}, {y0:.4g}) 到 ({x1:.4g}, {y1:.4g})",
    ),
    "step.quantity": ("quantity", "量"),
    "step.gradient": ("gradient g", "梯度 g"),
    "state.velocity": ("velocity", "速度"),
    "state.sum_sq_grad": ("sum of squared gradients", "梯度平方和"),
    "state.avg_sq_grad": ("running mean of g²", "g² 的滑动平均"),
    "state.avg_sq_update": ("running mean of Δ²", "Δ² 的滑动平均"),
    "state.effective_lr": ("effective learning rate", "有效学习率"),
    "state.first_moment": ("first moment m", "一阶矩 m"),
    "state.second_moment": ("second moment v", "二阶矩 v"),
    "state.mu": ("momentum μ_t", "动量系数 μ_t"),
    # results table
    "col.optimizer": ("optimizer", "优化器"),
    "col.lr": ("learning rate", "学习率"),
    "col.final": ("final (x, y)", "终点 (x, y)"),
    "col.gap": ("final f − f*", "最终 f − f*"),
    "col.distance": ("distance to nearest minimum", "到最近最小值的距离"),
    "col.steps_to_tol": ("steps to f − f* ≤ 0.001", "f − f* ≤ 0.001 所需步数"),
    "col.diverged": ("diverged", "发散"),
    "yes_at": ("yes, at step {step}", "是，第 {step} 步"),
    "yes": ("yes", "是"),
    "no": ("no", "否"),
    # best learning rate for each
    "best.heading": ("**Best learning rate for each**: {picks}.", "**各自的最佳学习率**：{picks}。"),
    "best.rule": (
        "Searched from {lo:g} to {hi:g}, {per} values per decade, {steps} steps from ({x0:g}, {y0:g}): "
        "each optimizer keeps the rate whose run ends closest to the minimum and stays there.",
        "在 {lo:g} 到 {hi:g} 之间搜索，每个数量级 {per} 个值，从 ({x0:g}, {y0:g}) 出发走 {steps} 步："
        "每个优化器保留终点离最小值最近、并且停在那里的学习率。",
    ),
    "best.edge": (
        " {names}: the best is at the end of the grid, so the true best may lie beyond it.",
        " {names}：最佳值落在网格的端点上，真正的最佳值可能在网格之外。",
    ),
    # batch, stochastic and mini-batch
    "batch.paths": ("{model} regression: paths in weight space", "{model}回归：权重空间中的路径"),
    "batch.per_epoch": ("Full-data loss after each epoch", "每一轮之后的全数据损失"),
    "batch.per_eval": ("Full-data loss against work done", "全数据损失与计算量"),
    "batch.w": ("w (slope)", "w（斜率）"),
    "batch.b": ("b (intercept)", "b（截距）"),
    "batch.epoch": ("epoch", "轮数"),
    "batch.evals": ("per-sample gradients computed (log scale)", "已计算的单样本梯度数（对数坐标）"),
    "batch.gap": ("loss − best loss (log scale)", "损失 − 最优损失（对数坐标）"),
    "batch.colour": ("log₁₀(loss − best)", "log₁₀(损失 − 最优)"),
    "batch.optimum": ("exact optimum", "精确最优解"),
    "model.linear": ("Linear", "线性"),
    "model.logistic": ("Logistic", "逻辑"),
    "mode.batch GD": ("Batch GD (all {n} samples)", "批量梯度下降（全部 {n} 个样本）"),
    "mode.SGD": ("SGD (1 sample)", "SGD（1 个样本）"),
    "mode.mini-batch": ("Mini-batch ({b} samples)", "小批量（{b} 个样本）"),
    "bcol.mode": ("mode", "方式"),
    "bcol.batch_size": ("batch size", "批大小"),
    "bcol.updates_per_epoch": ("updates per epoch", "每轮更新次数"),
    "bcol.updates": ("updates", "更新次数"),
    "bcol.evals": ("gradient evaluations", "梯度计算次数"),
    "bcol.final_loss": ("final loss", "最终损失"),
    "bcol.gap": ("loss − best", "损失 − 最优"),
    "bcol.update_us": ("mean time per update (µs)", "每次更新平均用时（µs）"),
    "bcol.epoch_ms": ("mean time per epoch (ms)", "每轮平均用时（ms）"),
    "bcol.std": ("loss std over last epoch", "最后一轮损失的标准差"),
    "bcol.diverged": ("diverged", "发散"),
}

# The surfaces' Chinese names in figure titles (the others are people's names, kept as
# they are); the same as the surface menu's, a test checks.
SURFACE_NAMES_ZH = {"Saddle": "鞍点", "Ill-conditioned quadratic": "病态二次函数"}

# The update rules in Chinese (the English is update_rules.EXPLANATIONS).
EXPLANATIONS_ZH: dict[str, str] = {
    "SGD": (
        r"直接沿梯度下降：$\theta_t = \theta_{t-1} - \eta\, g_t$。"
        "所有方向共用一个学习率，所以在平坦处爬得慢，在狭窄的山谷里来回弹跳。"
    ),
    "Momentum": (
        r"维护一个速度 $v_t = \mu v_{t-1} + g_t$，每步走 $\theta_t = \theta_{t-1} - \eta\, v_t$。"
        r"方向一致的梯度会累加（步长最多放大到 $1/(1-\mu)$ 倍），方向交替的梯度会相互抵消，"
        "因此能抑制来回震荡，并带着它越过平坦的地段。"
    ),
    "Nesterov": (
        r"带前瞻的动量：$v_t = \mu v_{t-1} + g_t$，"
        r"$\theta_t = \theta_{t-1} - \eta\,(g_t + \mu v_t)$"
        "（这是 torch 的写法，相当于在速度即将带你去的地方求梯度）。"
        "速度冲过头时，它会更早刹车。"
    ),
    "Adagrad": (
        r"把每个坐标的步长除以它过去所有梯度平方和的平方根：$s_t = s_{t-1} + g_t^2$，"
        r"$\theta_t = \theta_{t-1} - \eta\, g_t / (\sqrt{s_t} + \epsilon)$。"
        r"陡的方向步子小；但 $s_t$ 只增不减，所以步长一直在缩小。"
    ),
    "Adadelta": (
        r"$E[g^2]_t = \rho E[g^2]_{t-1} + (1-\rho) g_t^2$，"
        r"$\Delta_t = \frac{\sqrt{E[\Delta^2]_{t-1} + \epsilon}}{\sqrt{E[g^2]_t + \epsilon}}\, g_t$，"
        r"$\theta_t = \theta_{t-1} - \gamma\, \Delta_t$，"
        r"$E[\Delta^2]_t = \rho E[\Delta^2]_{t-1} + (1-\rho)\Delta_t^2$。"
        r"步长的均方根与梯度的均方根之比具有 $\theta$ 的单位，所以不需要学习率（$\gamma = 1$）；"
        r"由于 $E[\Delta^2]_0 = 0$，它起步很慢。"
    ),
    "RMSprop": (
        r"会遗忘的 Adagrad：$v_t = \alpha v_{t-1} + (1-\alpha) g_t^2$，"
        r"$\theta_t = \theta_{t-1} - \eta\, g_t / (\sqrt{v_t} + \epsilon)$。"
        "步长跟随最近的梯度大小，不会衰减到零。"
    ),
    "Adam": (
        r"动量加 RMSprop，两者都做偏差校正："
        r"$m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t$，"
        r"$v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2$，"
        r"$\theta_t = \theta_{t-1} - \eta\, \hat m_t / (\sqrt{\hat v_t} + \epsilon)$，"
        r"其中 $\hat m_t = m_t / (1-\beta_1^t)$，$\hat v_t = v_t / (1-\beta_2^t)$。"
        r"无论梯度多大，每一步的长度都约为 $\eta$。"
    ),
    "AdamW": (
        r"权重衰减解耦的 Adam：先收缩 $\theta \leftarrow (1 - \eta\lambda)\,\theta$，再走 Adam 的一步。"
        r"Adam 自带的权重衰减把 $\lambda\theta$ 加到 $g_t$ 上，会被 $\sqrt{\hat v_t}$ 重新缩放；"
        r"$\lambda = 0$ 时两者完全相同。"
    ),
    "NAdam": (
        r"带 Nesterov 动量的 Adam：这一步混合了新的梯度和前瞻一步的动量，"
        r"$\theta_t = \theta_{t-1} - \eta \big("
        r"\frac{(1-\mu_t)\, g_t}{1 - \prod_{i \le t} \mu_i} + "
        r"\frac{\mu_{t+1}\, m_t}{1 - \prod_{i \le t+1} \mu_i}\big) / (\sqrt{\hat v_t} + \epsilon)$，"
        r"其中 $\mu_t = \beta_1 (1 - \tfrac12\, 0.96^{0.004\, t})$。"
    ),
}


def language_of(value: str | None) -> str:
    """``"zh-CN"`` for any Chinese language tag (``zh``, ``zh-CN``, ``zh-Hans``), else ``"en"``."""
    return ZH if (value or "").strip().lower().startswith("zh") else EN


def text(key: str, lang: str = EN, **values: Any) -> str:
    """The text ``key`` in ``lang``, with ``values`` filled in."""
    english, chinese = TEXTS[key]
    template = chinese if lang == ZH else english
    return template.format(**values) if values else template


def surface_name(name: str, lang: str = EN) -> str:
    return SURFACE_NAMES_ZH.get(name, name) if lang == ZH else name


def explanation(name: str, english: str, lang: str = EN) -> str:
    return EXPLANATIONS_ZH[name] if lang == ZH else english
