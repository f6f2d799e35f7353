# Reference values for welch_test.go and summary_test.go.
#
# Run with: /usr/bin/python3 testdata/reference.py   (scipy 1.10.1, numpy 1.24.2, mpmath 1.2.1)
#
# Every reference is produced by scipy/numpy; mpmath at 50 digits on the exact
# rational values of the float64 inputs is printed next to it as a cross-check
# ("rel" is the relative difference between the two).
from fractions import Fraction
import numpy as np
import scipy
import scipy.stats
from scipy.stats._stats_py import _unequal_var_ttest_denom
import mpmath

mpmath.mp.dps = 50

textbook_a = [27.5, 21.0, 19.0, 23.6, 17.0, 17.9, 16.9, 20.1, 21.9, 22.6, 23.1, 19.6, 19.0, 21.7, 21.4]
textbook_b = [27.1, 22.0, 20.8, 23.4, 23.4, 23.5, 25.8, 22.0, 24.8, 20.2, 21.9, 22.1, 22.9, 20.5, 24.4]

# Eighths added to 1e9 and n = 8 keep every value, sum and mean exact in
# float64, so scipy's Diff is exact too and its T and P can be checked at 1e-9.
offset_noise_a = [0.125, -0.5, 0.75, 1.25, -1.0, 0.375, -0.25, 0.5]
offset_noise_b = [1.5, 0.625, 2.25, 1.125, 0.0, 1.875, 2.5, 0.75]
offset_a = [1e9 + x for x in offset_noise_a]
offset_b = [1e9 + x for x in offset_noise_b]

tail_a = [100.2, 99.1, 101.3, 100.7, 99.8, 100.4, 98.9, 100.9, 99.5, 100.1, 99.7, 100.6]
tail_b = [80.3, 79.9, 81.1, 80.6, 79.5, 80.8, 81.4, 80.0, 79.7, 80.9, 80.2, 81.0]


def exact(xs):
    fs = [Fraction(x) for x in xs]
    n = len(fs)
    m = sum(fs) / n
    v = sum((f - m) ** 2 for f in fs) / (n - 1)
    return n, m, v


def mp_welch(a, b, conf):
    n1, m1, v1 = exact(a)
    n2, m2, v2 = exact(b)
    a1 = mpmath.mpf(v1.numerator) / v1.denominator / n1
    a2 = mpmath.mpf(v2.numerator) / v2.denominator / n2
    d = mpmath.mpf((m2 - m1).numerator) / (m2 - m1).denominator
    se = mpmath.sqrt(a1 + a2)
    t = d / se
    df = (a1 + a2) ** 2 / (a1 ** 2 / (n1 - 1) + a2 ** 2 / (n2 - 1))
    p = mpmath.betainc(df / 2, mpmath.mpf(1) / 2, 0, df / (df + t * t), regularized=True)
    return dict(T=t, DF=df, P=p, Diff=d, StdErr=se)


def rel(x, y):
    x, y = mpmath.mpf(float(x)), mpmath.mpf(y)
    return float(abs(x - y) / abs(y)) if y != 0 else float(abs(x))


def case(name, a, b, conf):
    a_, b_ = np.asarray(a), np.asarray(b)
    r = scipy.stats.ttest_ind(b_, a_, equal_var=False)
    v1, v2 = np.var(a_, ddof=1), np.var(b_, ddof=1)
    df, se = _unequal_var_ttest_denom(v1, len(a_), v2, len(b_))
    diff = np.mean(b_) - np.mean(a_)
    q = scipy.stats.t.isf((1 - conf) / 2, df)
    n1, n2 = len(a_), len(b_)
    sp = np.sqrt(((n1 - 1) * v1 + (n2 - 1) * v2) / (n1 + n2 - 2))
    g = (1 - 3 / (4 * (n1 + n2) - 9)) * diff / sp
    out = dict(Mean1=np.mean(a_), Mean2=np.mean(b_), Var1=v1, Var2=v2, Diff=diff, StdErr=se,
               T=r.statistic, DF=df, P=r.pvalue, CILow=diff - q * se, CIHigh=diff + q * se,
               RelChange=diff / abs(np.mean(a_)), HedgesG=g)
    mp = mp_welch(a, b, conf)
    print(f"== {name} (confidence {conf})")
    for k, v in out.items():
        extra = f"   mpmath rel {rel(v, mp[k]):.1e}" if k in mp else ""
        print(f"  {k:9s} {float(v)!r}{extra}")


case("textbook", textbook_a, textbook_b, 0.95)
case("offset", offset_a, offset_b, 0.95)
case("tail", tail_a, tail_b, 0.99)
case("sign", textbook_b, textbook_a, 0.90)
case("high confidence", textbook_a, textbook_b, 0.999999)

print("== scale 1e-90: scipy on the scaled data")
r = scipy.stats.ttest_ind(np.array(textbook_b) * 1e-90, np.array(textbook_a) * 1e-90, equal_var=False)
print("  ", r)

print("== large n from summary statistics")
r = scipy.stats.ttest_ind_from_stats(101.5, np.sqrt(4.0), 500000, 101.49, np.sqrt(9.0), 500000, equal_var=False)
df, se = _unequal_var_ttest_denom(9.0, 500000, 4.0, 500000)
print("  ", r, "df", repr(float(df)), "se", repr(float(se)))
print("   t.isf(0.025, df) =", repr(scipy.stats.t.isf(0.025, df)))

print("== Summarize: numpy, and the exact rational value rounded to float64")
noisy = [1e9 + x for x in [0.1, -0.7, 0.3, 1.9, -1.3, 0.6, -0.2, 0.8, -0.4, 1.1]]
for name, xs in [("textbook_a", textbook_a), ("noisy 1e9", noisy),
                 ("neumaier", [1.0, 1e100, 1.0, -1e100])]:
    n, m, v = exact(xs)
    a = np.asarray(xs)
    naive = (np.sum(a * a) - len(a) * np.mean(a) ** 2) / (len(a) - 1)
    print(f"  {name}: np.mean {np.mean(a)!r} np.var(ddof=1) {np.var(a, ddof=1)!r}")
    print(f"  {' ' * len(name)}  exact  {float(m)!r} {float(v)!r}   naive one-pass var {naive!r}")
