# Reference values for reference_test.go, written to reference.json.
#
# Run from shared/analysis with Debian's Python and packages
# (apt-get install python3-scipy python3-statsmodels python3-mpmath):
#
#   /usr/bin/python3 testdata/generate.py > testdata/reference.json
#
# Every value comes from an implementation independent of the Go code:
#   welch        scipy.stats.ttest_ind(candidate, baseline, equal_var=False) and the t quantile
#   mann_whitney scipy.stats.mannwhitneyu(candidate, baseline, method=...) for U and p; z from the
#                textbook formula on numpy's tie counts; Hodges-Lehmann from all n1*n2 differences
#                formed and sorted by numpy; the interval's k from scipy's exact null distribution
#                (R's qwilcox rule) or the normal formula
#   tost         statsmodels.stats.weightstats.ttost_ind(candidate, baseline, low, upp, usevar="unequal")
#   power        the documented formulas with scipy's t quantiles; n by a plain upward search;
#                noncentral-t power (scipy.stats.nct) of the planned design as a cross-check
#   windows      numpy: lag-1 autocorrelation, batch means by reshape, the doubling rule
#
# The data sets are drawn from numpy's seeded generator and stored in the JSON with the results,
# so the Go tests read the exact inputs.
import json
import sys

import numpy as np
import scipy
import scipy.stats as st
import statsmodels
from scipy.stats._mannwhitneyu import _mwu_state
from statsmodels.stats.weightstats import ttost_ind

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


# ---------------------------------------------------------------- TOST

def tost(name, a, b, low, upp, relative, alpha):
    a, b = np.asarray(a, float), np.asarray(b, float)
    lo, hi = low, upp
    if relative:
        lo, hi = low * abs(np.mean(a)), upp * abs(np.mean(a))
    p, (t1, p1, df1), (t2, p2, df2) = ttost_ind(b, a, lo, hi, usevar="unequal")
    v1, v2 = np.var(a, ddof=1), np.var(b, ddof=1)
    se = np.sqrt(v1 / len(a) + v2 / len(b))
    diff = np.mean(b) - np.mean(a)
    q = st.t.isf(alpha, df1)
    return dict(name=name, baseline=floats(a), candidate=floats(b), lower=low, upper=upp, relative=relative, alpha=alpha,
                want=dict(lower=lo, upper=hi, t_lower=t1, p_lower=p1, t_upper=t2, p_upper=p2, p_value=p, df=df1,
                          ci_low=diff - q * se, ci_high=diff + q * se, equivalent=bool(p < alpha)))


# ---------------------------------------------------------------- power

def welch_df(v1, n1, v2, n2):
    a1, a2 = v1 / n1, v2 / n2
    return (a1 + a2) ** 2 / (a1 ** 2 / (n1 - 1) + a2 ** 2 / (n2 - 1))


def qsum(alpha, power, sides, df):
    return st.t.isf(alpha / sides, df) + st.t.ppf(power, df)


def power_case(v1, n1, v2, n2, delta, alpha, power, sides):
    mde = qsum(alpha, power, sides, welch_df(v1, n1, v2, n2)) * np.sqrt(v1 / n1 + v2 / n2)
    n = 2
    while qsum(alpha, power, sides, welch_df(v1, n, v2, n)) ** 2 * (v1 + v2) / n > delta ** 2:
        n += 1
    # Power of the planned design by the noncentral t: each tail's rejection probability.
    df = welch_df(v1, n, v2, n)
    nc = delta / np.sqrt((v1 + v2) / n)
    crit = st.t.isf(alpha / sides, df)
    achieved = st.nct.sf(crit, df, nc) + (st.nct.cdf(-crit, df, nc) if sides == 2 else 0)
    return dict(v1=v1, n1=n1, v2=v2, n2=n2, delta=delta, alpha=alpha, power=power, sides=sides,
                want=dict(mde=mde, n=n, nct_power=achieved))


# ---------------------------------------------------------------- windows

def lag1(x):
    x = np.asarray(x, float)
    if len(x) < 3:
        return None
    d = x - x.mean()
    den = np.sum(d * d)
    return None if den == 0 else float(np.sum(d[:-1] * d[1:]) / den)


def batch(x, size):
    x = np.asarray(x, float)
    count = len(x) // size
    drop = len(x) - count * size
    return x[drop:].reshape(count, size).mean(axis=1), drop


def correlated(means, max_lag):
    r = lag1(means)
    return r is not None and r > max_lag and r > 1.96 / np.sqrt(len(means))


def auto_size(series, max_lag=0.2, min_windows=10):
    shortest = min(len(s) for s in series)
    size = 1
    while True:
        correlated_ = any(correlated(batch(s, size)[0], max_lag) for s in series)
        if not correlated_ or shortest // (2 * size) < min_windows:
            return size
        size *= 2


def ar1(n, phi, mean, sd):
    x = np.empty(n)
    x[0] = rng.normal(0, sd / np.sqrt(1 - phi * phi))
    for i in range(1, n):
        x[i] = phi * x[i - 1] + rng.normal(0, sd)
    return x + mean


def windows_case(name, xs, size):
    means, drop = batch(xs, size)
    return dict(name=name, series=floats(xs), size=size,
                want=dict(means=floats(means), dropped=drop, lag1_before=lag1(xs), lag1_after=lag1(means)))


def main():
    out = dict(generator="testdata/generate.py",
               versions=dict(python=sys.version.split()[0], numpy=np.__version__, scipy=scipy.__version__,
                             statsmodels=statsmodels.__version__))

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

    ta = rng.normal(500, 20, 80)
    tb = rng.normal(503, 25, 70)
    out["tost"] = [
        tost("relative ±5%, equivalent", ta, tb, -0.05, 0.05, True, 0.05),
        tost("relative ±0.5%, not equivalent", ta, tb, -0.005, 0.005, True, 0.05),
        tost("absolute, asymmetric", ta, tb, -10.0, 15.0, False, 0.1),
        tost("far outside, deep tail", rng.normal(100, 1, 50), rng.normal(130, 1, 50), -1.0, 1.0, False, 0.05),
    ]

    out["power"] = [
        power_case(4.0, 20, 9.0, 25, 2.0, 0.05, 0.8, 2),
        power_case(1.0, 10, 1.0, 10, 0.5, 0.05, 0.9, 2),
        power_case(100.0, 200, 150.0, 180, 3.0, 0.0125, 0.8, 2),
        power_case(2.5, 12, 2.5, 12, 1.0, 0.05, 0.8, 1),
        power_case(0.04, 30, 0.09, 30, 0.05, 0.01, 0.95, 1),
        power_case(1e6, 5, 4e6, 7, 3000.0, 0.05, 0.8, 2),
    ]

    ar = ar1(2000, 0.9, 300, 5)
    iid = rng.normal(50, 3, 333)
    ar2 = ar1(1500, 0.8, 10, 1)
    out["windows"] = [
        windows_case("AR(1) phi 0.9, windows of 64", ar, 64),
        windows_case("AR(1) phi 0.9, windows of 30 (20 dropped)", ar, 30),
        windows_case("independent, windows of 1", iid, 1),
        windows_case("independent, windows of 10", iid, 10),
    ]
    out["window_size"] = [
        dict(name="AR(1) pair", series=[floats(ar), floats(ar2)], want=auto_size([ar, ar2])),
        dict(name="independent", series=[floats(iid), floats(iid[::-1])], want=auto_size([iid, iid[::-1]])),
        dict(name="strongly correlated, short", series=[floats(ar[:100]), floats(ar2[:90])], want=auto_size([ar[:100], ar2[:90]])),
    ]

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
