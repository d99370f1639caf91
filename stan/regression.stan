// K-component mixture of linear regressions with a censored response and,
// optionally, covariates on the mixing weights (a mixture of experts):
//
//   p(y_n | x_n) = sum_k w_k(z_n) f(y_n | intercept_k + x_n beta_k', sigma_k),
//
// f normal (student_t = 0) or Student-t with nu_k degrees of freedom
// (student_t = 1). The predictors x_n are the columns pred_col of X; the
// weights are constant (n_gate = 0, Dirichlet prior) or a multinomial logit
// of the columns gate_col of X,
//
//   log w_k(z_n) = gamma0_k + z_n gamma_k' - log sum_j exp(gamma0_j + z_n gamma_j'),
//
// with component 1's coefficients fixed at 0 (the others are log-odds
// against it), which identifies them. The response is the single column of
// the cell table (D = 1); its cell terms are
//   observed        log f(y | loc, sigma)
//   left-censored   log F(limit | loc, sigma)        true value <= limit
//   right-censored  log(1 - F(limit | loc, sigma))   true value >= limit
//   interval        log(F(upper) - F(lower))
//   missing         no term (the row only carries its weights)
// Covariates are complete and conditioned on.
//
// Identifiability: each component's line is parameterised by its value at
// the predictors' centre x_center, mu[k, 1] = intercept_k + x_center beta_k'.
// With ordered_means = 1 and order_by = 0 these values are declared
// increasing: at the centre of the data, where the ordering means something
// (intercepts at x = 0 may lie far outside the data). order_by = j orders
// the slopes of predictor j instead. The increasing values step from
// component `pivot` as in normal_diag.stan. ordered_means = 0 gives the plain
// label-switching model. w is the mixing weights at z_center when they
// depend on covariates.
//
// Every prior hyperparameter is data. stanmix standardizes the response and
// the covariates before the fit, so its defaults (in brackets) are on that
// scale; give values in the data's units when running this program
// directly.
//
// Run with CmdStan:  ./regression sample data file=regression.data.json \
//                        init=regression.init.json

functions {
#include mixture.stanfunctions
#include cells.stanfunctions
#include regression.stanfunctions
}

data {
#include cell_table.standata
#include components.standata
#include covariates.standata
  int<lower=0, upper=P> n_pred;                 // number of predictors in the regression
  array[n_pred] int<lower=1, upper=P> pred_col;  // their columns of X
  int<lower=0, upper=P> n_gate;                 // covariates of the mixing weights; 0: constant weights
  array[n_gate] int<lower=1, upper=P> gate_col;  // their columns of X
  vector[n_pred] x_center;     // where mu is defined: the predictors' means [0, standardized]
  vector[n_gate] z_center;     // where w is defined: the weight covariates' means [0]
  int<lower=0, upper=n_pred> order_by;  // with ordered_means = 1: 0 orders mu, j the slopes of predictor j [0]
  real<lower=0> beta_scale;    // prior sd of each slope, normal centred at 0 [2.5]
  real<lower=0> sigma_loc;     // prior median of the error scales, lognormal [0.5]
  real<lower=0> sigma_scale;   // prior sd of log(scale) [1]
  int<lower=0, upper=1> student_t;  // 1: Student-t errors, one nu per component; 0: normal [0]
  real<lower=0> nu_shape;      // gamma prior on each nu (student_t = 1): shape [2]
  real<lower=0> nu_rate;       // ... and rate [0.05]
  real<lower=0> gamma_scale;   // prior sd of the weights' log-odds and their coefficients [2.5]
  int<lower=0> grainsize;      // rows per reduce_sum chunk (threads); 0: one chunk [0]
}

transformed data {
  if (min(mu_scale) <= 0 || min(alpha) <= 0) {
    reject("mu_scale and alpha must be positive (each entry), got ", mu_scale,
           " and ", alpha);
  }
  if (min([beta_scale, sigma_loc, sigma_scale, gamma_scale]) <= 0) {
    reject("beta_scale, sigma_loc, sigma_scale and gamma_scale must be ",
           "positive, got ", beta_scale, ", ", sigma_loc, ", ", sigma_scale,
           " and ", gamma_scale);
  }
  if (student_t && (nu_shape <= 0 || nu_rate <= 0)) {
    reject("nu_shape and nu_rate must be positive, got ", nu_shape, " and ",
           nu_rate);
  }
  if (D != 1) {
    reject("regression.stan models one response column: D must be 1, got ", D);
  }
  int slopes_ordered = ordered_means && order_by > 0;
  int means_ordered = ordered_means && order_by == 0;
  array[slopes_ordered ? n_pred - 1 : 0] int rest_pred;
  if (slopes_ordered) {
    rest_pred = other_dims(n_pred, order_by);
  }
  matrix[N, n_pred] x = X[:, pred_col];
  matrix[N, n_gate] z = X[:, gate_col];
  // observed responses, 0 elsewhere (the cell table checked)
  vector[N] y_obs = checked_values(y, observed, left_row, left_col, right_row,
                                 right_col, interval_row, interval_col,
                                 interval_lower, interval_upper)[:, 1];
  vector[N] is_observed = observed[:, 1];
#include censored_list.standata
  // The likelihood is summed over rows with reduce_sum (on threads when
  // grainsize > 0, else as one chunk), which takes each row's censored
  // response (kind 0: none) from row-aligned arrays.
  array[N] int row_kind = rep_array(0, N);
  vector[N] row_lo = rep_vector(0, N);
  vector[N] row_hi = rep_vector(0, N);
  vector[N] uncensored = rep_vector(1, N);
  for (i in 1:n_cens) {
    row_kind[cens_row[i]] = all_kind[i];
    row_lo[cens_row[i]] = all_lower[i];
    row_hi[cens_row[i]] = all_upper[i];
    uncensored[cens_row[i]] = 0;
  }
  array[N] int row_ids = linspaced_int_array(N, 1, N);
}

parameters {
  ordered[means_ordered ? K - pivot + 1 : 0] mu_ordered;      // line at x_center, ordered: pivot up
  positive_ordered[means_ordered ? pivot - 1 : 0] mu_below;   // ... pivot's minus those below
  vector[means_ordered ? 0 : K] mu_free;                      // line at x_center, free
  ordered[slopes_ordered ? K - pivot + 1 : 0] slope_ordered;  // the ordered slopes: pivot up
  positive_ordered[slopes_ordered ? pivot - 1 : 0] slope_below;  // ... pivot's minus those below
  matrix[K, slopes_ordered ? n_pred - 1 : n_pred] beta_rest;   // the other slopes
  vector<lower=0>[K] sigma;                                    // error scales
  vector<lower=1>[student_t ? K : 0] nu;                       // degrees of freedom
  simplex[n_gate ? 1 : K] w_constant;         // weights, when they do not depend on covariates
  vector[n_gate ? K - 1 : 0] gamma0_rest;     // log-odds of components 2..K against 1 at z_center
  matrix[n_gate ? K - 1 : 0, n_gate] gamma_rest;  // their coefficients
}

transformed parameters {
  matrix[K, D] mu = to_matrix(
    means_ordered ? ordered_from_pivot(mu_ordered, mu_below) : mu_free, K, 1);
  matrix[K, n_pred] beta = slopes_ordered
    ? assemble_means(ordered_from_pivot(slope_ordered, slope_below), beta_rest,
                     order_by, rest_pred)
    : beta_rest;                                   // slopes, one per predictor
  vector[K] intercept = mu[:, 1] - beta * x_center;  // the line at x = 0
  vector[K] w;                                     // weights (at z_center)
  vector[n_gate ? K : 0] gamma0;                   // log-odds intercepts at z = 0
  matrix[n_gate ? K : 0, n_gate] gamma;            // log-odds coefficients
  if (n_gate) {
    vector[K] logit_center = append_row(0, gamma0_rest);
    gamma = append_row(rep_row_vector(0, n_gate), gamma_rest);
    gamma0 = logit_center - gamma * z_center;
    w = softmax(logit_center);
  } else {
    w = w_constant;
  }
}

model {
  to_vector(mu) ~ normal(to_vector(mu_loc), to_vector(mu_scale));
  to_vector(beta) ~ normal(0, beta_scale);
  sigma ~ lognormal(log(sigma_loc), sigma_scale);
  nu ~ gamma(nu_shape, nu_rate);
  if (n_gate) {
    gamma0_rest ~ normal(0, gamma_scale);
    to_vector(gamma_rest) ~ normal(0, gamma_scale);
  } else {
    w_constant ~ dirichlet(alpha);
  }
  target += reduce_sum(regression_rows, row_ids, grainsize > 0 ? grainsize : N,
                       y_obs, is_observed, uncensored, row_kind, row_lo, row_hi,
                       x, z, intercept, beta, sigma, nu, w, gamma0, gamma);
}

generated quantities {
  vector[compute_log_lik ? N : 0] log_lik;
  matrix[compute_membership ? N : 0, K] membership_log_prob;
  if (compute_log_lik || compute_membership) {
    // a variable, not an argument expression: regression_log_terms reads
    // it cell by cell, and stanli evaluates an expression at each read
    matrix[N, K] loc = rep_matrix(intercept', N) + x * beta';
    matrix[N, K] lp = regression_log_terms(
      y_obs, is_observed, cens_row, all_kind, all_lower, all_upper,
      loc, sigma, nu, regression_log_weights(z, w, gamma0, gamma));
    if (compute_log_lik) {
      log_lik = rows_log_sum_exp(lp);
    }
    if (compute_membership) {
      membership_log_prob = membership_log_probs(lp);
    }
  }
}
