"""Which parts of a mixture's partial sum stanli speeds up on two threads.

Small programs, each one ``reduce_sum`` over N rows of a random N x P
design (data) and a P x K coefficient matrix (parameters), the shape of
normal_diag's likelihood, timed per log-density gradient on 1 and 2 threads:

- ``product``: the partial sum is only ``sum(design[start:end] * coef)``;
- ``lse``: the row log-sum-exp of a product computed outside the partial
  sum (the N x K parameter matrix is a shared argument);
- ``fold``: the row log-sum-exp folded one component at a time, each a
  matrix-vector product, in the partial sum (normal_diag's form);
- ``both``: product and row log-sum-exp in the partial sum (normal_diag's
  earlier form);
- ``fold_by_columns``: the fold on the design stored transposed (P x N),
  each block's columns contiguous in memory;
- ``fold_sliced``: the fold with the design's rows as the sliced argument
  (an array of row vectors) instead of row numbers;
- ``fold_static``: the fold under ``reduce_sum_static``, whose blocks are
  exactly ``grainsize`` rows (half the rows on two threads: one block each);
- ``map_rect``: the fold over two shards of rows by ``map_rect``, Stan's
  other within-chain parallel map, each shard's rows packed as its real
  data (the grainsize is not used).

Beside each two-thread time: the process's CPU time per gradient (both
threads) and its voluntary context switches per gradient (the waits of
the threads on each other), from ``getrusage``.

Run from the repository root on an idle machine:

    python bench/threads_probe.py
    python bench/threads_probe.py --columns 11 --rows 40000
"""

from __future__ import annotations

import argparse
import resource

import numpy as np
from gradient_speed import thread_times

LSE = """
  vector rows_lse(matrix lp) {
    vector[rows(lp)] out = lp[:, 1];
    for (k in 2:cols(lp)) out = log_sum_exp(out, lp[:, k]);
    return out;
  }
"""
PARTS = {
    "product": (
        "real part(array[] int ids, int start, int end, matrix design, "
        "matrix coef) { return sum(design[start:end] * coef); }",
        "target += reduce_sum(part, ids, grainsize, design, coef);",
    ),
    "lse": (
        "real part(array[] int ids, int start, int end, matrix lp) "
        "{ return sum(rows_lse(lp[start:end])); }",
        "matrix[N, K] lp = design * coef;\n"
        "  target += reduce_sum(part, ids, grainsize, lp);",
    ),
    "fold": (
        "real part(array[] int ids, int start, int end, matrix design, "
        "matrix coef) { matrix[end - start + 1, cols(design)] d = "
        "design[start:end]; vector[end - start + 1] total = d * coef[:, 1]; "
        "for (k in 2:cols(coef)) total = log_sum_exp(total, d * coef[:, k]); "
        "return sum(total); }",
        "target += reduce_sum(part, ids, grainsize, design, coef);",
    ),
    "both": (
        "real part(array[] int ids, int start, int end, matrix design, "
        "matrix coef) { return sum(rows_lse(design[start:end] * coef)); }",
        "target += reduce_sum(part, ids, grainsize, design, coef);",
    ),
    "fold_by_columns": (
        "real part(array[] int ids, int start, int end, matrix design, "
        "matrix coef) { matrix[rows(design), end - start + 1] d = "
        "design[:, start:end]; row_vector[end - start + 1] total = "
        "coef[:, 1]' * d; for (k in 2:cols(coef)) total = log_sum_exp(total, "
        "coef[:, k]' * d); return sum(total); }",
        "target += reduce_sum(part, ids, grainsize, design, coef);",
    ),
    "fold_sliced": (
        "real part(array[] row_vector rows, int start, int end, matrix coef) "
        "{ matrix[size(rows), cols(coef)] lp = to_matrix(rows) * coef; "
        "vector[size(rows)] total = lp[:, 1]; for (k in 2:cols(coef)) total = "
        "log_sum_exp(total, lp[:, k]); return sum(total); }",
        "target += reduce_sum(part, design, grainsize, coef);",
    ),
}
PARTS["fold_static"] = (
    PARTS["fold"][0],
    "target += reduce_sum_static(part, ids, grainsize, design, coef);",
)
MAP_RECT = """functions {
  vector shard(vector phi, vector theta, data array[] real x, data array[] int dims) {
    int n = dims[1];
    matrix[n, dims[2]] d = to_matrix(x, n, dims[2]);
    matrix[dims[2], dims[3]] coef = to_matrix(phi, dims[2], dims[3]);
    vector[n] total = d * coef[:, 1];
    for (k in 2:dims[3]) total = log_sum_exp(total, d * coef[:, k]);
    return [sum(total)]';
  }
}
data {
  int N; int P; int K; int grainsize;
  array[2, (N %/% 2) * P] real shards; array[2, 3] int dims;
}
transformed data { array[2] vector[0] theta; }
parameters { matrix[P, K] coef; }
model {
  to_vector(coef) ~ normal(0, 1);
  target += sum(map_rect(shard, to_vector(coef), theta, shards, dims));
}
"""
DESIGN = {
    "fold_by_columns": "matrix[P, N] design",
    "fold_sliced": "array[N] row_vector[P] design",
}


NAMES = (*PARTS, "map_rect")


def probe_data(name: str, design: np.ndarray, k: int) -> dict:
    """The data of probe ``name`` (without its grainsize) for an N x P
    ``design`` and ``k`` components."""
    n, p = design.shape
    if name == "map_rect":
        # each shard's rows flattened column by column, as to_matrix reads them
        half = n // 2
        shards = [design[i * half : (i + 1) * half].T.ravel().tolist() for i in (0, 1)]
        return dict(N=n, P=p, K=k, dims=[[half, p, k]] * 2, shards=shards)
    by_columns = DESIGN.get(name, "").startswith("matrix[P")
    return dict(N=n, P=p, K=k, design=(design.T if by_columns else design).tolist())


def program(name: str) -> str:
    if name == "map_rect":
        return MAP_RECT
    part, body = PARTS[name]
    design = DESIGN.get(name, "matrix[N, P] design")
    return f"""functions {{{LSE}  {part}
}}
data {{ int N; int P; int K; {design}; int grainsize; }}
transformed data {{ array[N] int ids = linspaced_int_array(N, 1, N); }}
parameters {{ matrix[P, K] coef; }}
model {{
  to_vector(coef) ~ normal(0, 1);
  {body}
}}
"""


def cpu_and_waits(mir: str, data: dict, *, scale: float, seed: int) -> dict:
    """CPU ms and voluntary context switches per gradient on 2 threads, at
    the point ``thread_times`` uses."""
    import stanli

    model = stanli.Model(mir=mir, data=data, threads_per_chain=2)
    q = np.random.default_rng(seed).normal(scale=scale, size=model.n_unconstrained)
    for _ in range(20):
        model.log_prob_grad(q)
    calls = 500
    before = resource.getrusage(resource.RUSAGE_SELF)
    for _ in range(calls):
        model.log_prob_grad(q)
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "cpu_ms_2": 1e3 * cpu / calls,
        "waits_2": (after.ru_nvcsw - before.ru_nvcsw) / calls,
    }


def main(argv=None) -> int:
    import stanli

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--columns", type=int, default=16, help="P [16]")
    parser.add_argument("--components", type=int, default=5, help="K [5]")
    args = parser.parse_args(argv)
    n, p, k = args.rows, args.columns, args.components
    design = np.random.default_rng(0).normal(size=(n, p))
    print(f"stanli {stanli.__version__}; N={n}, P={p}, K={k}; ms per gradient")
    for name in NAMES:
        data = probe_data(name, design, k)
        mir = stanli.stan_to_mir(program(name))
        # a static reduction's blocks are its grainsize: one block per thread
        grains = (n, n // 2) if name == "fold_static" else (n // 4, n // 8)
        row = thread_times(mir, data, grains, scale=0.1, seed=1)
        row.update(
            cpu_and_waits(mir, dict(data, grainsize=grains[1]), scale=0.1, seed=1)
        )
        print(
            f"{name:8s} 1 thread {row['ms_1']:7.3f}  2 threads {row['ms_2']:7.3f}  "
            f"{row['speedup']:.2f}x  (2 threads: CPU {row['cpu_ms_2']:.3f} ms, "
            f"{row['waits_2']:.1f} waits per gradient)",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
