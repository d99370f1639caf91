// Multivariate K-component normal mixture with diagonal covariance and
// joint components: each observation vector comes from ONE component,
//
//   p(y_n) = sum_k w_k prod_d f(y_nd | mu_kd, sigma_kd),
//
// evaluated as log_sum_exp over k of [log w_k + sum over the cells of row n
// of that cell's log term]. Cell terms:
//   observed        normal_lpdf(y | mu, sigma)
//   left-censored   normal_lcdf(limit | mu, sigma)    true value <= limit
//   right-censored  normal_lccdf(limit | mu, sigma)   true value >= limit
//   interval        log_diff_exp of the two lcdfs     lower <= value <= upper
//   missing         no term (exact for a diagonal covariance)
//
// Identifiability: the component means along dimension `anchor` are
// declared `ordered`; the other dimensions are free and follow the labels
// the anchor fixes, because the components are joint.
//
// independent_dims = 1 switches to the per-dimension model that treats the
// D columns as independent univariate mixtures (x may come from one
// component and y from another). It is the common mistake this program
// exists to avoid, kept so its failure can be shown; leave it at 0.
//
// Every prior hyperparameter is data. stanmix standardizes each column
// before the fit, so its defaults (in brackets) are on that scale; give
// values in the units of each column when running this program directly.
//
// Run with CmdStan:  ./diag_mixture sample data file=diag_mixture.data.json

functions {
#include mixture.stanfunctions
}

data {
  int<lower=1> N;                       // number of observations (rows)
  int<lower=1> D;                       // number of dimensions (columns)
  int<lower=1> K;                       // number of mixture components

  matrix[N, D] y;                       // values; read only where observed = 1 (put 0 elsewhere)
  matrix<lower=0, upper=1>[N, D] observed;  // 1 where y[n, d] is observed exactly, else 0

  int<lower=0> n_left;                  // number of left-censored cells (true value <= limit)
  array[n_left] int<lower=1, upper=N> left_row;
  array[n_left] int<lower=1, upper=D> left_col;
  vector[n_left] left_limit;            // upper limit of each such cell (units of its column)

  int<lower=0> n_right;                 // number of right-censored cells (true value >= limit)
  array[n_right] int<lower=1, upper=N> right_row;
  array[n_right] int<lower=1, upper=D> right_col;
  vector[n_right] right_limit;          // lower limit of each such cell (units of its column)

  int<lower=0> n_interval;              // number of interval-censored cells
  array[n_interval] int<lower=1, upper=N> interval_row;
  array[n_interval] int<lower=1, upper=D> interval_col;
  vector[n_interval] interval_lower;    // lower bound of each such cell
  vector<lower=interval_lower>[n_interval] interval_upper;  // upper bound, > lower

  int<lower=1, upper=D> anchor;         // dimension whose component means are ordered [best separated]
  int<lower=0, upper=1> independent_dims;  // 1: per-dimension (wrong) model; 0: joint components [0]

  matrix[K, D] mu_loc;                  // prior centre of each component mean (units of each column) [0]
  matrix<lower=0>[K, D] mu_scale;       // prior sd of each component mean [3]
  vector<lower=0>[D] sigma_loc;         // prior median of the scales in each dimension, lognormal [0.5]
  vector<lower=0>[D] sigma_scale;       // prior sd of log(scale) in each dimension [1]
  vector<lower=0>[K] alpha;             // Dirichlet concentration of the weights [3]

  int<lower=0, upper=1> compute_log_lik;     // 1: emit pointwise log_lik (per row) for LOO [0]
  int<lower=0, upper=1> compute_membership;  // 1: emit membership log-probabilities [0]
}

transformed data {
  // Columns other than the anchor, in order.
  array[D - 1] int rest;
  {
    int j = 1;
    for (d in 1:D) {
      if (d != anchor) {
        rest[j] = d;
        j += 1;
      }
    }
  }
  matrix[N, D] y_obs = y .* observed;   // unobserved cells carry no value
  matrix[N, D] y_sq = square(y_obs);
  vector[N] n_observed = observed * rep_vector(1, D);
  if (independent_dims && compute_membership) {
    reject("compute_membership needs joint components (independent_dims = 0): ",
           "per-dimension mixtures have no single component per row");
  }
}

parameters {
  ordered[K] mu_anchor;                 // component means along the anchor dimension
  matrix[K, D - 1] mu_rest;             // component means along the other dimensions
  matrix<lower=0>[K, D] sigma;          // component scales (diagonal covariance)
  simplex[K] w;                         // mixing weights
}

transformed parameters {
  matrix[K, D] mu;                      // component means, K x D
  mu[:, anchor] = mu_anchor;
  mu[:, rest] = mu_rest;
}

model {
  vector[K] log_w = log(w);
  to_vector(mu) ~ normal(to_vector(mu_loc), to_vector(mu_scale));
  for (d in 1:D) {
    sigma[:, d] ~ lognormal(log(sigma_loc[d]), sigma_scale[d]);
  }
  w ~ dirichlet(alpha);

  if (independent_dims) {
    target += sum(per_dimension_log_lik(
      y_obs, observed, left_row, left_col, left_limit, right_row, right_col,
      right_limit, interval_row, interval_col, interval_lower, interval_upper,
      mu, sigma, log_w));
  } else {
    matrix[N, K] lp = joint_log_terms(
      y_obs, y_sq, observed, n_observed, left_row, left_col, left_limit,
      right_row, right_col, right_limit, interval_row, interval_col,
      interval_lower, interval_upper, mu, sigma, log_w);
    target += sum(rows_log_sum_exp(lp));
  }
}

generated quantities {
  vector[compute_log_lik ? N : 0] log_lik;
  matrix[compute_membership ? N : 0, K] membership_log_prob;
  if (compute_log_lik || compute_membership) {
    vector[K] log_w = log(w);
    matrix[N, K] lp = joint_log_terms(
      y_obs, y_sq, observed, n_observed, left_row, left_col, left_limit,
      right_row, right_col, right_limit, interval_row, interval_col,
      interval_lower, interval_upper, mu, sigma, log_w);
    if (compute_log_lik && !independent_dims) {
      log_lik = rows_log_sum_exp(lp);
    }
    if (compute_log_lik && independent_dims) {
      log_lik = per_dimension_log_lik(
        y_obs, observed, left_row, left_col, left_limit, right_row,
        right_col, right_limit, interval_row, interval_col, interval_lower,
        interval_upper, mu, sigma, log_w);
    }
    if (compute_membership) {
      membership_log_prob = membership_log_probs(lp);
    }
  }
}
