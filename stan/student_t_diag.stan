// K-component mixture of Student-t components with diagonal (or spherical)
// scales and joint components: each observation vector comes from ONE
// component, and given its component each cell is Student-t with the
// component's degrees of freedom nu_k,
//
//   p(y_n) = sum_k w_k prod_d StudentT(y_nd | nu_k, mu_kd, sigma_kd).
//
// Heavy tails let a component absorb its own outlying cells instead of
// spending another component on them. The columns are independent given
// the component, so censored cells are exact through the Student-t CDF:
//   observed        student_t_lpdf(y | nu, mu, sigma)
//   left-censored   log P(T <= limit), T ~ StudentT(nu, mu, sigma)
//   right-censored  log P(T >= limit)
//   interval        log_diff_exp of the two tails
//   missing         no term
// The CDF is cells.stanfunctions' own (a continued fraction of the
// incomplete beta function, in log space): Stan's student_t_lcdf loses
// digits in the far tail when nu is large.
// (For elliptical multivariate-t components use full_cov.stan with
// student_t = 1.)
//
// Identifiability, spherical scales and the priors on means, scales and
// weights are as in normal_diag.stan. The degrees of freedom have a
// gamma(nu_shape, nu_rate) prior on nu >= 1 (means exist). The default
// gamma(2, 0.05) has zero density at 0, like Juarez and Steel's (2010)
// gamma(2, 0.1), and a tail twice as long (mean 40), which lets clean data
// show normal-like components.
//
// The weights have a dirichlet(alpha) prior. With every alpha >= 1 they are
// the simplex w_simplex; with an alpha below 1 (a sparse overfitted
// mixture) they are softmax(log_g) with exp(log_g) ~ gamma(alpha, 1), the
// same prior in a form NUTS samples well when components empty (see
// mixing_weights in mixture.stanfunctions).
//
// Run with CmdStan:  ./student_t_diag sample data file=student_t_diag.data.json \
//                        init=student_t_diag.init.json

functions {
#include mixture.stanfunctions
#include cells.stanfunctions
}

data {
#include cell_table.standata
#include components.standata
  int<lower=0, upper=1> spherical;      // 1: one scale per component for all columns [0]
  vector<lower=0>[spherical ? 1 : D] sigma_loc;    // prior median of the scales, lognormal [0.5]
  vector<lower=0>[spherical ? 1 : D] sigma_scale;  // prior sd of log(scale) [1]
  real<lower=0> nu_shape;               // gamma prior on each nu: shape [2]
  real<lower=0> nu_rate;                // ... and rate [0.05]
  int<lower=0> grainsize;               // rows per reduce_sum chunk (threads); 0: one chunk [0]
}

transformed data {
  if (min(mu_scale) <= 0 || min(alpha) <= 0) {
    reject("mu_scale and alpha must be positive (each entry), got ", mu_scale,
           " and ", alpha);
  }
  if (min(append_row(sigma_loc, sigma_scale)) <= 0) {
    reject("sigma_loc and sigma_scale must be positive, got ", sigma_loc,
           " and ", sigma_scale);
  }
  if (nu_shape <= 0 || nu_rate <= 0) {
    reject("nu_shape and nu_rate must be positive, got ", nu_shape, " and ",
           nu_rate);
  }
  array[D - 1] int rest = other_dims(D, anchor);
  // observed values, 0 elsewhere (the cell table checked)
  matrix[N, D] y_obs = checked_values(y, observed, left_row, left_col, right_row,
                                      right_col, interval_row, interval_col,
                                      interval_lower, interval_upper);
#include censored_list.standata
  // The likelihood is summed over rows with reduce_sum (on threads when
  // grainsize > 0, else as one chunk).
  array[N] int row_ids = linspaced_int_array(N, 1, N);
}

parameters {
  ordered[ordered_means ? K - pivot + 1 : 0] mu_anchor_ordered;  // ordered: anchor locations, pivot up
  positive_ordered[ordered_means ? pivot - 1 : 0] mu_anchor_below;  // ordered: pivot's minus those below
  vector[ordered_means ? 0 : K] mu_anchor_free;      // anchor locations when free
  matrix[K, D - 1] mu_rest;                          // locations along the other columns
  matrix<lower=0>[K, spherical ? 1 : D] sigma_free;  // scales
  vector<lower=1>[K] nu;                             // degrees of freedom per component
  simplex[min(alpha) < 1 ? 1 : K] w_simplex;         // mixing weights (every alpha >= 1)
  vector[min(alpha) < 1 ? K : 0] log_g;              // sparse: w = softmax(log_g)
}

transformed parameters {
  simplex[K] w = mixing_weights(w_simplex, log_g);  // mixing weights
  matrix[K, D] mu = assemble_means(
    ordered_means ? ordered_from_pivot(mu_anchor_ordered, mu_anchor_below)
                  : mu_anchor_free,
    mu_rest, anchor, rest);  // component locations
  matrix[K, D] sigma = spherical ? rep_matrix(sigma_free[:, 1], D)
                                 : sigma_free;      // component scales
}

model {
  to_vector(mu) ~ normal(to_vector(mu_loc), to_vector(mu_scale));
  for (d in 1:cols(sigma_free)) {
    sigma_free[:, d] ~ lognormal(log(sigma_loc[d]), sigma_scale[d]);
  }
  nu ~ gamma(nu_shape, nu_rate);
  mixing_weights_lp(w_simplex, log_g, alpha);
  vector[K] log_w = log_mixing_weights(w_simplex, log_g);
  target += reduce_sum(student_t_diag_rows, row_ids, grainsize > 0 ? grainsize : N,
                       y_obs, observed, cens_counts, cens_slot,
                       with_zero_row(censored_term_matrix(
                         cens_col, cens_kind, cens_lower, cens_upper, nu, mu,
                         sigma)),
                       mu, sigma, nu, log_w);
}

generated quantities {
  vector[compute_log_lik ? N : 0] log_lik;
  matrix[compute_membership ? N : 0, K] membership_log_prob;
  if (compute_log_lik || compute_membership) {
    matrix[N, K] lp = student_t_diag_log_terms(
      y_obs, observed, cens_counts, cens_slot, cens_col, cens_kind, cens_lower,
      cens_upper, mu, sigma, nu, log_mixing_weights(w_simplex, log_g));
    if (compute_log_lik) {
      log_lik = rows_log_sum_exp(lp);
    }
    if (compute_membership) {
      membership_log_prob = membership_log_probs(lp);
    }
  }
}
