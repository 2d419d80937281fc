# Reference calibration results from R (package `survey` and base `stats::loglin`)
# for the personacal test-suite. CI has no R: the outputs under
# tests/results/r_reference/ are committed and read by the Python tests.
#
# Regenerate from the repository root with:
#     Rscript tests/results/r_reference.R
#
# Everything is deterministic (set.seed per problem). See tests/results/README.md
# for the file layout and an exact description of the R algorithms.

suppressPackageStartupMessages({
  library(survey)
  library(jsonlite)
})

out_root <- file.path("tests", "results", "r_reference")
if (!dir.exists(file.path("tests", "results"))) {
  stop("run from the repository root: Rscript tests/results/r_reference.R")
}
dir.create(out_root, showWarnings = FALSE, recursive = TRUE)

RAKE_CONTROL <- list(maxit = 1000, epsilon = 1e-13, verbose = FALSE)
CAL_EPSILON <- 1e-13
CAL_MAXIT <- 1000
LOGLIN_EPS <- 1e-12
LOGLIN_ITER <- 10000L

versions <- list(
  R = R.version.string,
  survey = as.character(packageVersion("survey")),
  jsonlite = as.character(packageVersion("jsonlite")),
  platform = R.version$platform
)

# ------------------------------------------------------------------ output helpers
# Shortest of 15/16/17 significant digits that reads back to the identical double.
num <- function(x) {
  out <- sprintf("%.15g", x)
  for (digits in c(16, 17)) {
    bad <- !is.na(x) & as.numeric(out) != x
    out[bad] <- sprintf(paste0("%.", digits, "g"), x[bad])
  }
  out
}

write_csv <- function(df, path) {
  for (col in names(df)) {
    if (is.factor(df[[col]])) df[[col]] <- as.character(df[[col]])
    if (is.double(df[[col]])) df[[col]] <- ifelse(is.na(df[[col]]), NA, num(df[[col]]))
  }
  write.table(df, path, sep = ",", row.names = FALSE, col.names = TRUE,
              quote = FALSE, na = "")
}

write_json_file <- function(x, path) {
  writeLines(toJSON(x, auto_unbox = TRUE, pretty = TRUE, digits = NA, null = "null"), path)
}

# Long-format targets: margin, one column per variable, value.
targets_long <- function(pop_joint, margins, variables) {
  rows <- list()
  for (m in margins) {
    tab <- as.data.frame(xtabs(as.formula(paste("Freq ~", paste(m, collapse = "+"))),
                               data = pop_joint), stringsAsFactors = FALSE)
    block <- data.frame(margin = rep(paste(m, collapse = ":"), nrow(tab)),
                        stringsAsFactors = FALSE)
    for (v in variables) block[[v]] <- if (v %in% m) as.character(tab[[v]]) else NA_character_
    block$value <- as.numeric(tab$Freq)
    rows[[length(rows) + 1]] <- block
  }
  do.call(rbind, rows)
}

# Population data frame (vars + Freq) of one margin, as rake()/postStratify() take it.
margin_frame <- function(pop_joint, m) {
  tab <- as.data.frame(xtabs(as.formula(paste("Freq ~", paste(m, collapse = "+"))),
                             data = pop_joint))
  tab$Freq <- as.numeric(tab$Freq)
  tab
}

# ------------------------------------------------------------------ checks
max_rel_margin_error <- function(sample, w, pop_joint, margins) {
  err <- 0
  for (m in margins) {
    f <- as.formula(paste("w ~", paste(m, collapse = "+")))
    got <- as.data.frame(xtabs(f, data = cbind(sample, w = w)), responseName = "got")
    want <- margin_frame(pop_joint, m)
    both <- merge(want, got, by = m, all = TRUE)
    both$got[is.na(both$got)] <- 0
    err <- max(err, abs(both$got - both$Freq) / abs(both$Freq))
  }
  err
}

# ------------------------------------------------------------------ iteration counts
# rake() and grake() do not return their iteration count; the smallest `maxit`
# that converges without a warning/error is that count (see README).
rake_sweeps <- function(fun) {
  for (k in 1:RAKE_CONTROL$maxit) {
    warned <- FALSE
    withCallingHandlers(fun(k), warning = function(w) {
      warned <<- TRUE
      invokeRestart("muffleWarning")
    })
    if (!warned) return(k)
  }
  NA_integer_
}

grake_steps <- function(fun) {
  for (k in 1:CAL_MAXIT) {
    ok <- tryCatch(suppressWarnings({ fun(k); TRUE }), error = function(e) FALSE)
    if (ok) return(k)
  }
  NA_integer_
}

# ------------------------------------------------------------------ one problem
run_problem <- function(name, sample, pop_joint, variables, margins, cal_formula,
                        bounds, poststrata = NULL, description = "") {
  dir <- file.path(out_root, name)
  dir.create(dir, showWarnings = FALSE)
  sample <- sample[, c("id", variables, "d")]
  for (v in variables) sample[[v]] <- factor(sample[[v]], levels = levels(pop_joint[[v]]))

  write_csv(sample, file.path(dir, "sample.csv"))
  write_csv(targets_long(pop_joint, margins, variables), file.path(dir, "targets.csv"))
  if (!is.null(poststrata)) {
    write_csv(targets_long(pop_joint, list(poststrata), variables),
              file.path(dir, "targets_poststrat.csv"))
  }

  des <- svydesign(ids = ~1, weights = ~d, data = sample)
  d <- sample$d
  n <- nrow(sample)
  results <- list()
  save <- function(method, w, call, iterations, used_margins, method_bounds = NULL) {
    write_csv(data.frame(id = sample$id, weight = as.numeric(w)),
              file.path(dir, paste0("weights_", method, ".csv")))
    g <- as.numeric(w) / d
    entry <- list(
      call = call,
      iterations = iterations,
      margins = vapply(used_margins, paste, "", collapse = ":"),
      max_rel_margin_error = max_rel_margin_error(sample, as.numeric(w), pop_joint, used_margins),
      g_min = min(g), g_max = max(g),
      sum_weights = sum(w)
    )
    if (!is.null(method_bounds)) {
      entry$bounds <- list(lower = method_bounds[1], upper = method_bounds[2])
      entry$n_at_lower <- sum(abs(g - method_bounds[1]) < 1e-9)
      entry$n_at_upper <- sum(abs(g - method_bounds[2]) < 1e-9)
      stopifnot(all(g >= method_bounds[1] - 1e-12), all(g <= method_bounds[2] + 1e-12))
    }
    stopifnot(entry$max_rel_margin_error < 1e-9)
    results[[method]] <<- entry
  }

  # --- rake (iterative post-stratification)
  pop_margins <- lapply(margins, function(m) margin_frame(pop_joint, m))
  sample_margins <- lapply(margins, function(m) as.formula(paste("~", paste(m, collapse = "+"))))
  do_rake <- function(maxit) {
    rake(des, sample.margins = sample_margins, population.margins = pop_margins,
         control = list(maxit = maxit, epsilon = RAKE_CONTROL$epsilon, verbose = FALSE))
  }
  rk <- do_rake(RAKE_CONTROL$maxit)
  save("rake", weights(rk),
       sprintf("rake(design, sample.margins=list(%s), population.margins=<data frames var(s)+Freq>, control=list(maxit=%d, epsilon=%g, verbose=FALSE))",
               paste(vapply(sample_margins, function(f) paste(deparse(f), collapse = ""), ""), collapse = ", "),
               RAKE_CONTROL$maxit, RAKE_CONTROL$epsilon),
       rake_sweeps(do_rake), margins)

  # --- calibrate()
  mm_pop <- model.matrix(cal_formula, pop_joint)
  population <- colSums(mm_pop * pop_joint$Freq)
  stopifnot(identical(names(population), colnames(model.matrix(cal_formula, sample))))
  fstr <- paste(deparse(cal_formula), collapse = "")
  cal_specs <- list(
    linear = list(calfun = "linear", bounds = c(-Inf, Inf)),
    linear_bounded = list(calfun = "linear", bounds = bounds),
    raking = list(calfun = "raking", bounds = c(-Inf, Inf)),
    raking_bounded = list(calfun = "raking", bounds = bounds),
    logit_bounded = list(calfun = "logit", bounds = bounds)
  )
  for (method in names(cal_specs)) {
    spec <- cal_specs[[method]]
    do_cal <- function(maxit) {
      calibrate(des, formula = cal_formula, population = population,
                calfun = spec$calfun, bounds = spec$bounds,
                epsilon = CAL_EPSILON, maxit = maxit)
    }
    cal <- do_cal(CAL_MAXIT)
    unbounded_linear <- spec$calfun == "linear" && all(is.infinite(spec$bounds))
    iters <- if (unbounded_linear) 0L else grake_steps(do_cal)
    call <- sprintf("calibrate(design, formula=%s, population=<see population_vector>, calfun=\"%s\", bounds=c(%s, %s), epsilon=%g, maxit=%d)",
                    fstr, spec$calfun, spec$bounds[1], spec$bounds[2], CAL_EPSILON, CAL_MAXIT)
    if (unbounded_linear) call <- paste(call, "# dispatches to survey:::regcalibrate (closed form, no iteration)")
    save(method, weights(cal), call, iters, margins,
         if (all(is.finite(spec$bounds))) spec$bounds else NULL)
  }

  # --- postStratify()
  if (!is.null(poststrata)) {
    ps_pop <- margin_frame(pop_joint, poststrata)
    ps <- postStratify(des, as.formula(paste("~", paste(poststrata, collapse = "+"))), ps_pop)
    save("poststratify", weights(ps),
         sprintf("postStratify(design, ~%s, population=<data frame %s + Freq>)",
                 paste(poststrata, collapse = "+"), paste(poststrata, collapse = ", ")),
         0L, list(poststrata))
  }

  meta <- list(
    problem = name,
    description = description,
    versions = versions,
    n = n,
    variables = variables,
    levels = lapply(setNames(variables, variables), function(v) levels(pop_joint[[v]])),
    design_weight = "d",
    sum_design_weights = sum(d),
    population_total = sum(pop_joint$Freq),
    margins = vapply(margins, paste, "", collapse = ":"),
    poststrata = if (is.null(poststrata)) NULL else paste(poststrata, collapse = ":"),
    calibrate_formula = fstr,
    population_vector = as.list(population),
    bounds = list(lower = bounds[1], upper = bounds[2], on = "g = w/d", bounds.const = FALSE),
    rake_control = RAKE_CONTROL,
    calibrate_epsilon = CAL_EPSILON,
    calibrate_maxit = CAL_MAXIT,
    methods = results
  )
  write_json_file(meta, file.path(dir, "metadata.json"))
  invisible(list(sample = sample, results = results, rake = rk))
}

# Integer population joint table from a probability array.
joint_frame <- function(probs, N, dimnames_list) {
  arr <- array(round(N * probs / sum(probs)), dim = lengths(dimnames_list),
               dimnames = dimnames_list)
  df <- as.data.frame(as.table(arr), responseName = "Freq")
  df$Freq <- as.numeric(df$Freq)
  df
}

draw <- function(n, probs, labels) factor(sample(labels, n, replace = TRUE, prob = probs), levels = labels)

# ================================================================== P1
set.seed(20240501)
lv1 <- list(a = paste0("a", 1:3), b = paste0("b", 1:4), c = paste0("c", 1:2))
n1 <- 200
s1 <- data.frame(id = sprintf("P1_%03d", 1:n1),
                 a = draw(n1, c(0.4, 0.33, 0.27), lv1$a),
                 b = draw(n1, c(0.2, 0.27, 0.27, 0.26), lv1$b),
                 c = draw(n1, c(0.55, 0.45), lv1$c))
s1$d <- round(runif(n1, 20, 80) * ifelse(s1$c == "c1", 0.8, 1.3), 4)
p1 <- outer(outer(c(0.3, 0.35, 0.35), c(0.25, 0.3, 0.25, 0.2)), c(0.48, 0.52))
p1 <- p1 * array(runif(length(p1), 0.7, 1.3), dim = dim(p1))
pop1 <- joint_frame(p1, 1.07 * sum(s1$d), lv1)
stopifnot(all(table(s1$a, s1$b) > 0))
res1 <- run_problem("P1", s1, pop1, c("a", "b", "c"), list("a", "b", "c"),
                    ~a + b + c, bounds = c(0.5, 2.0), poststrata = c("a", "b"),
                    description = "n=200, three categorical variables (3, 4, 2 levels), unequal design weights, 1-D targets; postStratify on a x b.")

# Kish hand-checks on P1 (design weights and rake weights)
kish <- function(w) {
  n <- length(w)
  cv_pop <- sqrt(mean((w - mean(w))^2)) / mean(w)
  list(n = n, sum_w = sum(w), sum_w2 = sum(w^2),
       kish_ess = sum(w)^2 / sum(w^2),
       deff_kish = 1 + cv_pop^2,
       n_over_ess = n / (sum(w)^2 / sum(w^2)),
       cv_population_divisor_n = cv_pop,
       cv_sample_divisor_n_minus_1 = sd(w) / mean(w))
}
write_json_file(list(
  problem = "P1",
  note = "kish_ess = sum(w)^2/sum(w^2); deff_kish = 1 + CV^2 with CV = sqrt(mean((w-mean(w))^2))/mean(w) (divisor n), which equals n/kish_ess. cv_sample uses R's sd() (divisor n-1).",
  design_weights = kish(s1$d),
  rake_weights = kish(as.numeric(weights(res1$rake))),
  versions = versions
), file.path(out_root, "P1", "kish.json"))

# ================================================================== P2
set.seed(20240502)
lv2 <- list(age = paste0("age", 1:5), sex = paste0("sex", 1:2),
            region = paste0("region", 1:4), educ = paste0("educ", 1:3))
n2 <- 500
s2 <- data.frame(id = sprintf("P2_%03d", 1:n2),
                 age = draw(n2, c(0.17, 0.19, 0.21, 0.21, 0.22), lv2$age),
                 sex = draw(n2, c(0.45, 0.55), lv2$sex),
                 region = draw(n2, c(0.32, 0.3, 0.2, 0.18), lv2$region),
                 educ = draw(n2, c(0.28, 0.38, 0.34), lv2$educ))
s2$d <- round(exp(rnorm(n2, 0, 0.35)) * ifelse(s2$region %in% c("region3", "region4"), 150, 90), 4)
p2 <- array(1, dim = lengths(lv2))
p2 <- sweep(p2, 1, c(0.22, 0.22, 0.2, 0.18, 0.18), "*")
p2 <- sweep(p2, 3, c(0.25, 0.25, 0.25, 0.25), "*")
p2 <- sweep(p2, 4, c(0.35, 0.4, 0.25), "*")
p2 <- p2 * array(runif(length(p2), 0.6, 1.4), dim = dim(p2))
pop2 <- joint_frame(p2, 0.95 * sum(s2$d), lv2)
stopifnot(all(table(s2$age, s2$sex) > 0))
res2 <- run_problem("P2", s2, pop2, c("age", "sex", "region", "educ"),
                    list(c("age", "sex"), "region", "educ"),
                    ~age * sex + region + educ, bounds = c(0.5, 2.0),
                    poststrata = c("age", "sex"),
                    description = "n=500, four categorical variables; targets: age x sex (2-D), region, educ; postStratify on age x sex.")

# ================================================================== P3
set.seed(20240503)
lv3 <- list(x = paste0("x", 1:3), y = paste0("y", 1:4))
n3 <- 150
s3 <- data.frame(id = sprintf("P3_%03d", 1:n3),
                 x = draw(n3, c(0.5, 0.3, 0.2), lv3$x),
                 y = draw(n3, c(0.4, 0.3, 0.18, 0.12), lv3$y))
s3$d <- round(runif(n3, 8, 12), 4)
p3 <- outer(c(0.33, 0.33, 0.34), c(0.25, 0.25, 0.27, 0.23))
pop3 <- joint_frame(p3, sum(s3$d), lv3)
res3 <- run_problem("P3", s3, pop3, c("x", "y"), list("x", "y"), ~x + y,
                    bounds = c(0.4, 3.0),
                    description = "n=150, two categorical variables, skewed sample; targets force large g so bounded linear/raking calibrations hit their bounds.")
for (m in c("linear_bounded", "raking_bounded")) {
  r <- res3$results[[m]]
  stopifnot(r$n_at_lower > 0, r$n_at_upper > 0)
}

# ================================================================== loglin
set.seed(20240504)
ll_dir <- file.path(out_root, "loglin")
dir.create(ll_dir, showWarnings = FALSE)
ll_dimnames <- list(a = paste0("a", 1:3), b = paste0("b", 1:4),
                    c = paste0("c", 1:2), d = paste0("d", 1:5))
ll_dims <- lengths(ll_dimnames)
ll_margins <- list(c(1, 2), c(3, 4), c(1, 3), c(2, 4))
ll_margin_labels <- vapply(ll_margins, function(m) paste(names(ll_dimnames)[m], collapse = ":"), "")

as_long <- function(arr) {
  df <- as.data.frame(as.table(arr), responseName = "value", stringsAsFactors = FALSE)
  df$value <- as.numeric(df$value)
  df
}
margins_long <- function(arr) {
  rows <- list()
  for (k in seq_along(ll_margins)) {
    m <- ll_margins[[k]]
    tab <- apply(arr, m, sum)
    df <- as.data.frame(as.table(tab), responseName = "value", stringsAsFactors = FALSE)
    block <- data.frame(margin = rep(ll_margin_labels[k], nrow(df)), stringsAsFactors = FALSE)
    for (v in names(ll_dimnames)) block[[v]] <- if (v %in% names(df)) df[[v]] else NA_character_
    block$value <- as.numeric(df$value)
    rows[[k]] <- block
  }
  do.call(rbind, rows)
}
run_loglin <- function(seed, truth, variant) {
  out <- capture.output(
    fit <- loglin(truth, margin = ll_margins, start = seed, fit = TRUE,
                  eps = LOGLIN_EPS, iter = LOGLIN_ITER, print = TRUE)
  )
  nlast <- as.integer(sub(" iterations.*", "", out[1]))
  deviation <- as.numeric(sub(".*deviation ", "", out[1]))
  target <- margins_long(truth)
  got <- margins_long(fit$fit)
  stopifnot(identical(target[, 1:5], got[, 1:5]))
  max_abs <- max(abs(got$value - target$value))
  max_rel <- max(abs(got$value - target$value) / abs(target$value))
  stopifnot(max_rel < 1e-9)
  write_csv(as_long(seed), file.path(ll_dir, paste0("seed_", variant, ".csv")))
  write_csv(target, file.path(ll_dir, paste0("margins_", variant, ".csv")))
  write_csv(as_long(fit$fit), file.path(ll_dir, paste0("fit_", variant, ".csv")))
  list(call = sprintf("loglin(table=<truth>, margin=list(%s), start=<seed>, fit=TRUE, eps=%g, iter=%d)",
                      paste(vapply(ll_margins, function(m) sprintf("c(%s)", paste(m, collapse = ",")), ""), collapse = ", "),
                      LOGLIN_EPS, LOGLIN_ITER),
       iterations = nlast, final_deviation = deviation,
       n_zero_seed_cells = sum(seed == 0),
       max_abs_margin_error = max_abs, max_rel_margin_error = max_rel,
       fit_total = sum(fit$fit))
}
seed_dense <- array(runif(prod(ll_dims), 0.5, 2), dim = ll_dims, dimnames = ll_dimnames)
truth_dense <- array(rgamma(prod(ll_dims), shape = 2) + 0.1, dim = ll_dims, dimnames = ll_dimnames)
truth_dense <- 1000 * truth_dense / sum(truth_dense)
mask <- array(runif(prod(ll_dims)) > 0.15, dim = ll_dims, dimnames = ll_dimnames)
seed_zeros <- seed_dense * mask
# The truth shares the seed's zero pattern, so the margins are attainable on that support.
truth_zeros <- truth_dense * mask
truth_zeros <- 1000 * truth_zeros / sum(truth_zeros)
ll_results <- list(
  dense = run_loglin(seed_dense, truth_dense, "dense"),
  zeros = run_loglin(seed_zeros, truth_zeros, "zeros")
)
write_json_file(list(
  versions = versions,
  dims = as.list(ll_dims),
  levels = ll_dimnames,
  margins = ll_margin_labels,
  eps = LOGLIN_EPS, iter = LOGLIN_ITER,
  note = "seed_<variant>.csv: starting table (one row per cell); margins_<variant>.csv: target 2-D margins (long format, taken from a different 'truth' table); fit_<variant>.csv: loglin fitted table.",
  variants = ll_results
), file.path(ll_dir, "metadata.json"))

# ================================================================== summary
summary <- list(
  versions = versions,
  generated_by = "Rscript tests/results/r_reference.R",
  problems = list(
    P1 = lapply(res1$results, function(r) r[c("iterations", "max_rel_margin_error")]),
    P2 = lapply(res2$results, function(r) r[c("iterations", "max_rel_margin_error")]),
    P3 = lapply(res3$results, function(r) r[c("iterations", "max_rel_margin_error")])
  ),
  loglin = lapply(ll_results, function(r) r[c("iterations", "final_deviation", "max_rel_margin_error")])
)
write_json_file(summary, file.path(out_root, "metadata.json"))
cat(toJSON(summary, auto_unbox = TRUE, pretty = TRUE, digits = 4), "\n")
