# Reference values for reference_test.go, written to reference.json.
#
# Run from shared/analysis with Debian's Python and packages (apt-get install python3-scipy
# python3-mpmath), about a minute:
#
#   /usr/bin/python3 testdata/generate.py > testdata/reference.json
#
# Every value comes from an implementation independent of the Go code:
#   welch             scipy.stats.ttest_ind(candidate, baseline, equal_var=False) and the t quantile
#   mann_whitney      scipy.stats.mannwhitneyu(candidate, baseline, method=...) for U and p; z from the
#                     textbook formula on numpy's tie counts; Hodges-Lehmann from all n1*n2 differences
#                     formed and sorted by numpy; the interval's k from scipy's exact null distribution
#                     (R's qwilcox rule) or the normal formula
#   long_run_variance the mean by numpy; Ω̂ = (1/ν) Σ Λⱼ² with Λⱼ coefficient j of
#                     scipy.fft.dct(x, type=2, norm="ortho"); where ν = n − 1, also numpy's
#                     var(ddof=1), which Ω̂ must equal
#   lag1              numpy: Σ (xₜ − x̄)(xₜ₊₁ − x̄) / Σ (xₜ − x̄)², undefined (null) below three values
#                     or for a constant series
#   ar1_gram          U'ΣU in numpy with Σ = scipy.linalg.toeplitz(ρ^k) and U the first ν + 1 rows of
#                     the orthonormal DCT-II matrix (scipy's dct of the identity)
#   exact_quantile    c with P(|T| > c) = level: the probability by Imhof's (1961) integral over the
#                     eigenvalues (numpy) of S·diag(ν, −c², …)·S, S the symmetric square root of the
#                     Gram matrix above, integrated by scipy.integrate.quad; c by scipy.optimize.brentq.
#                     For ρ = 0 also Student's quantile, from scipy.stats.t.ppf and from mpmath at 40
#                     digits (scipy 1.10's is off by up to 1e-9 relative; Imhof agrees with mpmath to
#                     1e-12). For a few cases a direct Monte Carlo second opinion: AR(1) series simulated
#                     by numpy, T from their mean and DCT; the exceedance of c and the empirical quantile,
#                     each with its standard error. satterthwaite is the documented approximation
#                     (ar1Stretch) recomputed from the Gram matrix's diagonal and scipy's t quantile.
#   satterthwaite     at n = 2500 and 4000, the Imhof quantile as above and the documented approximation
#                     with the exact Var Λⱼ (the Go fallback beyond n = 2048)
#
# The data sets are drawn from numpy's seeded generator (the Monte Carlo from its own seeds, stored)
# and stored in the JSON with the results, so the Go tests read the exact inputs.
import json
import sys
import warnings

import mpmath
import numpy as np
import scipy
import scipy.stats as st
from scipy.stats._mannwhitneyu import _mwu_state
from scipy.fft import dct
from scipy.integrate import IntegrationWarning, quad
from scipy.linalg import toeplitz
from scipy.optimize import brentq

rng = np.random.default_rng(20261126)


def floats(a):
    return [float(x) for x in a]


# ---------------------------------------------------------------- Welch

def welch(name, a, b, conf, scale=1.0):
    # scale: the data are stored as given, and the reference computed on data/scale, then scaled
    # back (t, df and p do not change with scale): scipy's df formula squares the variances,
    # which underflow for data near 1e-80 and silently give df = NaN.
    stored_a, stored_b = floats(a), floats(b)
    a, b = np.asarray(a, float) / scale, np.asarray(b, float) / scale
    r = st.ttest_ind(b, a, equal_var=False)
    v1, v2 = np.var(a, ddof=1), np.var(b, ddof=1)
    n1, n2 = len(a), len(b)
    se = np.sqrt(v1 / n1 + v2 / n2)
    df = (v1 / n1 + v2 / n2) ** 2 / ((v1 / n1) ** 2 / (n1 - 1) + (v2 / n2) ** 2 / (n2 - 1))
    diff = np.mean(b) - np.mean(a)
    q = st.t.isf((1 - conf) / 2, df)
    c, c2 = scale, scale * scale
    return dict(name=name, baseline=stored_a, candidate=stored_b, confidence=conf,
                want=dict(mean1=np.mean(a) * c, mean2=np.mean(b) * c, var1=v1 * c2, var2=v2 * c2, diff=diff * c,
                          std_err=se * c, t=r.statistic, df=df, p_value=r.pvalue, ci_low=(diff - q * se) * c,
                          ci_high=(diff + q * se) * c))


# ---------------------------------------------------------------- Mann-Whitney and Hodges-Lehmann

EXACT_MAX_PAIRS = 2500  # the Go rule: exact without ties and n1*n2 <= 2500


def mann_whitney(name, a, b, conf):
    a, b = np.asarray(a, float), np.asarray(b, float)
    n1, n2 = len(a), len(b)
    pooled = np.concatenate([a, b])
    _, counts = np.unique(pooled, return_counts=True)
    ties = counts[counts > 1]
    tie_term = float(np.sum(ties.astype(float) ** 3 - ties))
    exact = tie_term == 0 and n1 * n2 <= EXACT_MAX_PAIRS
    r = st.mannwhitneyu(b, a, alternative="two-sided", use_continuity=True,
                        method="exact" if exact else "asymptotic")
    u = float(r.statistic)
    mu = n1 * n2 / 2
    n = n1 + n2
    sigma = np.sqrt(n1 * n2 / 12 * ((n + 1) - tie_term / (n * (n - 1))))
    z = np.sign(u - mu) * max(0.0, abs(u - mu) - 0.5) / sigma

    d = np.sort(np.subtract.outer(b, a).ravel())
    pairs = n1 * n2
    alpha = 1 - conf
    if exact:
        k = 0
        while _mwu_state.cdf(k, n1, n2) < alpha / 2:
            k += 1
        k = max(k, 1)
        coverage = 1 - 2 * _mwu_state.cdf(k - 1, n1, n2)
    else:
        s0 = np.sqrt(pairs * (n + 1) / 12)
        zq = st.norm.isf(alpha / 2)
        k = max(int(np.floor(mu + 0.5 - zq * s0)), 1)
        coverage = 1 - 2 * st.norm.cdf((k - 0.5 - mu) / s0)
    return dict(name=name, baseline=floats(a), candidate=floats(b), confidence=conf,
                want=dict(u=u, p_value=float(r.pvalue), z=float(z), exact=bool(exact), tie_term=tie_term,
                          shift=float(np.median(d)), shift_low=float(d[k - 1]), shift_high=float(d[pairs - k]),
                          coverage=float(coverage), baseline_median=float(np.median(a))))


# ---------------------------------------------------------------- long-run variance and lag-1 autocorrelation

def ar1(n, phi, mean, sd):
    # A stationary Gaussian AR(1): the first value is drawn from the stationary distribution.
    x = np.empty(n)
    x[0] = rng.normal(0, sd / np.sqrt(1 - phi * phi))
    for i in range(1, n):
        x[i] = phi * x[i - 1] + rng.normal(0, sd)
    return x + mean


def long_run(name, x, nu, offset=0.0):
    # Λ_j = √(2/n) Σ cos(πj(t − ½)/n) x_t is coefficient j of the orthonormal DCT-II. offset is
    # subtracted first (exactly: the values lie within a factor of 2 of it), which leaves Λ_j ≥ 1
    # unchanged and keeps the FFT's rounding of a 1e9 offset (~1e-7) out of coefficients of order 1e-2.
    x = np.asarray(x, float)
    y = x - offset
    lam = dct(y, type=2, norm="ortho")[1:nu + 1]
    want = dict(mean=offset + np.mean(y), omega=np.sum(lam * lam) / nu)
    if nu == len(x) - 1:
        # The n − 1 cosines complete an orthonormal basis with the constant: Ω̂ is the sample variance.
        want["sample_variance"] = np.var(y, ddof=1)
        assert abs(want["omega"] / want["sample_variance"] - 1) < 1e-13, name
    return dict(name=name, series=floats(x), nu=nu, want=want)


def lag1_case(name, x, offset=0.0):
    # Undefined (None) below three values or for a constant series, as the Go doc says.
    x = np.asarray(x, float)
    r = None
    if len(x) >= 3 and not np.all(x == x[0]):
        d = (x - offset) - np.mean(x - offset)
        r = float(np.sum(d[:-1] * d[1:]) / np.sum(d * d))
    return dict(name=name, series=floats(x), want=r)


# ---------------------------------------------------------------- AR(1) covariance of the EWC statistic

def basis(n, nu):
    # The n × (ν+1) matrix U whose columns are 1/√n and √(2/n)cos(πj(t − ½)/n): the rows of the
    # orthonormal DCT-II matrix, obtained by transforming the identity.
    return dct(np.eye(n), type=2, norm="ortho", axis=0)[:nu + 1].T


def gram(n, nu, rho):
    u = basis(n, nu)
    sigma = toeplitz(rho ** np.arange(n))  # Σ_st = ρ^|s−t| (0**0 = 1)
    return u.T @ sigma @ u


def gram_case(n, nu, rho):
    g = gram(n, nu, rho)
    return dict(n=n, nu=nu, rho=rho, want=[floats(row) for row in (g + g.T) / 2])


# ---------------------------------------------------------------- exact critical value (Imhof)

def imhof_exceedance(g, nu, c):
    # P(|T| > c) for T = z₀/√(Σⱼ zⱼ²/ν), z ~ N(0, G), is P(z'Dz > 0) with D = diag(ν, −c², …).
    # With R the symmetric square root of G (numpy's eigh), z = Rw for standard normal w and
    # z'Dz = w'RDRw = Σ λₖ wₖ², λ the eigenvalues of RDR. Imhof (1961), eq. 3.2 at x = 0:
    #   P(Σ λₖ wₖ² > 0) = ½ + (1/π) ∫₀^∞ sin(½ Σ arctan λₖu) / (u Π (1 + λₖ²u²)^¼) du,
    # integrated over s = log u (du/u = ds) by scipy's adaptive quad, with λ scaled to max |λ| = 1
    # (the probability does not depend on the scale).
    w, v = np.linalg.eigh(g)
    root = (v * np.sqrt(w)) @ v.T
    d = np.full(nu + 1, -c * c)
    d[0] = nu
    m = root @ np.diag(d) @ root
    lam = np.linalg.eigvalsh((m + m.T) / 2)
    lam /= np.max(np.abs(lam))

    def integrand(s):
        # In s = log u the integrand is smooth, rises as e^s from −∞ and falls as e^(−s(ν+1)/2).
        if s > 300:  # beyond, (λu)² overflows; the integrand is below e^(−150) there
            return 0.0
        a = lam * np.exp(s)
        return np.sin(0.5 * np.sum(np.arctan(a))) * np.exp(-0.25 * np.sum(np.log1p(a * a)))

    # It bends near s = −log |λₖ|: integrate piecewise between those points.
    knots = np.unique(np.round(-np.log(np.abs(lam)), 6))
    edges = [-np.inf, *knots, np.inf]
    total, error = 0.0, 0.0
    for a, b in zip(edges[:-1], edges[1:]):
        with warnings.catch_warnings():
            # quad warns when the infinite tail cannot reach 1e-15; its error estimate is checked below.
            warnings.simplefilter("ignore", IntegrationWarning)
            part, err = quad(integrand, a, b, epsabs=1e-15, epsrel=1e-13, limit=500)
        total, error = total + part, error + err
    assert error < 1e-12, (c, error)  # measured ≤ 1.6e-13: P to 5e-14 absolute, 1e-10 relative at 0.0005
    return 0.5 + total / np.pi


def imhof_quantile(g, nu, level):
    f = lambda c: np.log(imhof_exceedance(g, nu, c)) - np.log(level)
    hi = st.t.isf(level / 2, nu)
    while f(hi) > 0:
        hi *= 2
    lo = hi / 2
    while f(lo) < 0:
        lo /= 2
    return brentq(f, lo, hi, xtol=1e-14, rtol=1e-14, maxiter=200)


def student_mpmath(level, nu):
    # Student's two-sided quantile at 40 digits: the root of I_{ν/(ν+t²)}(ν/2, ½) = level. scipy
    # 1.10's t.ppf is off by up to 1e-9 relative at these levels (ν = 5, 11), more than the
    # Imhof integral above.
    f = lambda t: mpmath.betainc(mpmath.mpf(nu) / 2, mpmath.mpf(1) / 2, 0, nu / (nu + t * t), regularized=True) - level
    return float(mpmath.findroot(f, mpmath.mpf(float(st.t.isf(level / 2, nu)))))


def satterthwaite(n, nu, rho, g=None):
    # The Go fallback's formula as documented on ar1Stretch: n·Var(x̄) and Var Λⱼ from the exact
    # Gram matrix; factor √(n·Var(x̄)/mean Var Λⱼ), Satterthwaite df (Σ Var Λⱼ)²/Σ (Var Λⱼ)².
    if g is None:
        g = gram(n, nu, rho)
    mean_var = g[0, 0]
    v = np.diag(g)[1:]
    factor, df = np.sqrt(mean_var / np.mean(v)), np.sum(v) ** 2 / np.sum(v * v)
    return factor, df


def satterthwaite_quantile(n, nu, rho, level, g=None):
    factor, df = satterthwaite(n, nu, rho, g)
    return factor * st.t.isf(level / 2, df)


def monte_carlo(n, nu, rho, level, c, draws, seed):
    # The EWC t statistic of simulated AR(1) series, directly: √n·x̄ over √Ω̂, Ω̂ from scipy's DCT.
    # Returns P(|T| > c) and its binomial standard error, and the empirical (1 − level) quantile of
    # |T| with its asymptotic standard error √(p(1 − p)/N)/f(c), f the density of |T| at c
    # (the derivative of the Imhof exceedance).
    gen = np.random.default_rng(seed)
    chunk = 250_000
    stats = []
    for start in range(0, draws, chunk):
        m = min(chunk, draws - start)
        e = gen.standard_normal((m, n))
        x = np.empty_like(e)
        x[:, 0] = e[:, 0]
        for t in range(1, n):
            x[:, t] = rho * x[:, t - 1] + np.sqrt(1 - rho * rho) * e[:, t]
        lam = dct(x, type=2, norm="ortho", axis=1)[:, 1:nu + 1]
        stats.append(np.abs(np.sqrt(n) * x.mean(axis=1)) / np.sqrt(np.mean(lam * lam, axis=1)))
    t = np.concatenate(stats)
    p = np.mean(t > c)
    g = gram(n, nu, rho)
    h = 1e-4 * c
    density = (imhof_exceedance(g, nu, c - h) - imhof_exceedance(g, nu, c + h)) / (2 * h)
    return dict(seed=seed, draws=draws, exceedance=p, exceedance_se=np.sqrt(p * (1 - p) / draws),
                quantile=np.quantile(t, 1 - level), quantile_se=np.sqrt(level * (1 - level) / draws) / density)


def exact_case(n, nu, rho, level, mc=None):
    g = gram(n, nu, rho)
    c = imhof_quantile(g, nu, level)
    want = dict(imhof=c, satterthwaite=satterthwaite_quantile(n, nu, rho, level, g))
    if rho == 0:
        # Independent values: the statistic is Student's t with ν df exactly.
        want.update(student=st.t.ppf(1 - level / 2, nu), student_mpmath=student_mpmath(level, nu))
        assert abs(c / want["student_mpmath"] - 1) < 1e-12, (n, level, c, want["student_mpmath"])
    case = dict(n=n, nu=nu, rho=rho, level=level, want=want)
    if mc is not None:
        case["monte_carlo"] = monte_carlo(n, nu, rho, level, c, *mc)
    return case


def main():
    out = dict(generator="testdata/generate.py",
               versions=dict(python=sys.version.split()[0], numpy=np.__version__, scipy=scipy.__version__,
                             mpmath=mpmath.__version__))

    big_a = rng.normal(1000, 40, 1200)
    big_b = rng.normal(990, 55, 1000)
    out["welch"] = [
        welch("normal 1200 vs 1000", big_a, big_b, 0.95),
        welch("lognormal, unequal sizes", rng.lognormal(3, 1, 40), rng.lognormal(2.8, 1.2, 90), 0.99),
        welch("memory bytes near 2e9", 2e9 + rng.normal(0, 3, 60).round(), 2e9 + 1 + rng.normal(0, 2, 45).round(), 0.9),
        welch("tiny 1e-80", rng.normal(1, 0.1, 25) * 1e-80, rng.normal(1.05, 0.2, 30) * 1e-80, 0.95, scale=1e-80),
    ]

    out["mann_whitney"] = [
        mann_whitney("exact, small, no ties", [1.83, 0.5, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.3],
                     [0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.07, 3.14, 1.291], 0.95),
        mann_whitney("exact, 50 x 50 (the limit)", rng.normal(10, 2, 50), rng.normal(11, 2, 50), 0.95),
        mann_whitney("exact, 3 x 400", rng.normal(0, 1, 3), rng.normal(0.8, 1, 400), 0.9),
        mann_whitney("exact, too small for the level", [4.0, 7.0, 1.0], [9.0, 8.0, 12.0, 10.0], 0.95),
        mann_whitney("ties, small", [3, 4, 2, 6, 2, 5], [9, 7, 5, 10, 6, 8], 0.95),
        mann_whitney("ties, discrete counts", rng.poisson(6, 120).astype(float), rng.poisson(5, 110).astype(float), 0.95),
        mann_whitney("asymptotic, 51 x 50", rng.normal(10, 2, 51), rng.normal(11, 2, 50), 0.95),
        mann_whitney("heavy tails (Cauchy)", rng.standard_cauchy(300) * 5 + 100, rng.standard_cauchy(280) * 5 + 97, 0.95),
        mann_whitney("offset 1e9", 1e9 + rng.normal(0, 1, 200), 1e9 + 0.3 + rng.normal(0, 1, 150), 0.99),
        mann_whitney("same distribution (exponential), unequal sizes", rng.exponential(3, 400), rng.exponential(3, 380), 0.95),
        mann_whitney("candidate lower, skewed", rng.lognormal(5, 0.6, 700), rng.lognormal(4.8, 0.6, 650), 0.95),
        mann_whitney("separated", np.arange(1.0, 21.0), np.arange(101.0, 121.0), 0.95),
    ]

    out["long_run_variance"] = [
        long_run(f"AR(1) 0.6, n = {n}", ar1(n, 0.6, 10, 2), min(n - 1, 30)) for n in (3, 5, 12, 48, 240, 1000, 5000)
    ] + [
        long_run("independent, n = 31: ν = n − 1 = 30", rng.normal(-4, 0.5, 31), 30),
        long_run("AR(1) 0.9, n = 1000", ar1(1000, 0.9, 0, 1), 30),
        long_run("AR(1) −0.5, n = 300", ar1(300, -0.5, 100, 10), 30),
        long_run("offset 1e9, noise 0.01, n = 500", 1e9 + ar1(500, 0.3, 0, 0.01), 30, offset=1e9),
        long_run("AR(1) 0.6, n = 240, ν = 4", ar1(240, 0.6, 10, 2), 4),
        long_run("AR(1) 0.6, n = 12, ν = 1", ar1(12, 0.6, 10, 2), 1),
    ]

    lr = out["long_run_variance"]
    out["lag1"] = [lag1_case(c["name"], c["series"], offset=1e9 if "offset" in c["name"] else 0.0) for c in lr] + [
        lag1_case("independent, n = 5000 (r near 0)", rng.normal(0, 1, 5000)),
        lag1_case("alternating ±1, n = 9", [(-1.0) ** t for t in range(9)]),
        lag1_case("two values", [1.0, 2.0]),
        lag1_case("constant 7", [7.0] * 6),
        lag1_case("constant 0.1", [0.1] * 7),
        lag1_case("constant 1e9 + 0.1", [1e9 + 0.1] * 7),
    ]

    out["ar1_gram"] = [gram_case(n, min(n - 1, 30), rho) for n in (4, 12, 48, 200) for rho in (0.0, 0.5, 0.9)]

    # Monte Carlo cross-checks: (draws, seed) for a few cases.
    mc = {(12, 0.8, 0.005): (2_000_000, 1), (6, 0.9, 0.05): (2_000_000, 2), (48, 0.9, 0.005): (2_000_000, 3),
          (120, 0.5, 0.0005): (4_000_000, 4), (24, 0.0, 0.05): (2_000_000, 5)}
    out["exact_quantile"] = [exact_case(n, min(n - 1, 30), rho, level, mc.get((n, rho, level)))
                             for n in (6, 12, 24, 48, 120) for rho in (0.0, 0.5, 0.8, 0.9)
                             for level in (0.05, 0.005, 0.0005)]

    out["satterthwaite"] = []
    for n in (2500, 4000):
        for rho in (0.5, 0.9):
            g = gram(n, 30, rho)
            for level in (0.05, 0.0005):
                out["satterthwaite"].append(dict(n=n, nu=30, rho=rho, level=level, want=dict(
                    imhof=imhof_quantile(g, 30, level), satterthwaite=satterthwaite_quantile(n, 30, rho, level, g))))

    def clean(o):
        if isinstance(o, dict):
            return {k: clean(v) for k, v in o.items()}
        if isinstance(o, list):
            return [clean(v) for v in o]
        if isinstance(o, (np.floating, np.integer)):
            return o.item()
        return o

    json.dump(clean(out), sys.stdout, indent=1)
    sys.stdout.write("\n")


main()
