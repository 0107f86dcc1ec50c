package classifier

import (
	"math"
	"slices"

	"github.com/james-bowman/sparse"
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/optimize"
)

// fitLogReg fits L2-regularised logistic regression of y on the rows of X,
// minimising the mean log loss plus (λ/2)·‖w‖² (the bias is not penalised)
// with gonum's L-BFGS.
func fitLogReg(X *sparse.CSR, y []bool, lambda float64) linear {
	n, d := X.Dims()
	z := make([]float64, n) // margins at lastX
	r := make([]float64, n) // residuals p - y at lastX
	lastX := make([]float64, d+1)
	valid := false
	eval := func(x []float64) {
		if valid && slices.Equal(x, lastX) {
			return
		}
		copy(lastX, x)
		valid = true
		clear(z)
		X.MulVecTo(z, false, x[:d])
		for i := range z {
			z[i] += x[d]
		}
	}
	yv := func(i int) float64 {
		if y[i] {
			return 1
		}
		return 0
	}
	problem := optimize.Problem{
		Func: func(x []float64) float64 {
			eval(x)
			var loss float64
			for i, zi := range z {
				loss += logLoss(zi, yv(i))
			}
			w := x[:d]
			return loss/float64(n) + lambda/2*floats.Dot(w, w)
		},
		Grad: func(grad, x []float64) {
			eval(x)
			for i, zi := range z {
				r[i] = (sigmoid(zi) - yv(i)) / float64(n)
			}
			clear(grad)
			X.MulVecTo(grad[:d], true, r)
			floats.AddScaled(grad[:d], lambda, x[:d])
			grad[d] = floats.Sum(r)
		},
	}
	settings := &optimize.Settings{
		GradientThreshold: 1e-7,
		MajorIterations:   400,
		Converger:         &optimize.FunctionConverge{Relative: 1e-9, Iterations: 20},
	}
	x0 := make([]float64, d+1)
	// Minimize reports a stalled line search or the iteration limit as an
	// error while still returning its best point, which is the one we want.
	res, _ := optimize.Minimize(problem, x0, settings, &optimize.LBFGS{})
	if res == nil {
		return linear{w: make([]float64, d)}
	}
	w := make([]float64, d)
	for j := range w {
		w[j] = sanitize(res.X[j])
	}
	return linear{w: w, b: sanitize(res.X[d])}
}

// rocchioNegativeWeight is γ in the Rocchio prototype c⁺ − γ·c⁻: the classic
// β = 16, γ = 4 of the Rocchio literature, as a ratio.
const rocchioNegativeWeight = 0.25

// fitRocchio builds the Rocchio prototype of the label, the centroid of its
// positives less γ times the centroid of its negatives, scaled to unit
// length, so that the score of a unit-length article is their cosine.
func fitRocchio(X *sparse.CSR, y []bool) linear {
	n, d := X.Dims()
	var np float64
	for _, yi := range y {
		if yi {
			np++
		}
	}
	nn := float64(n) - np
	// Each article's weight in the centroid difference.
	c := make([]float64, n)
	for i, yi := range y {
		if yi {
			c[i] = 1 / math.Max(np, 1)
		} else {
			c[i] = -rocchioNegativeWeight / math.Max(nn, 1)
		}
	}
	w := make([]float64, d)
	X.MulVecTo(w, true, c)
	if norm := floats.Norm(w, 2); norm > 0 {
		floats.Scale(1/norm, w)
	}
	return linear{w: w}
}

// calibrate fits Platt scaling to out-of-fold scores — by maximum
// likelihood against Platt's smoothed targets, which keep the fit from
// promising certainty the data cannot back — and then picks the threshold
// on p that maximises F1 on the same scores. With passages it fits
// p = σ(a·whole + c·best + b), a learned combination of the whole text's
// score and the best of it and its passages' (best = whole for a short
// article, so there p = σ((a+c)·whole + b)); without, p = σ(a·whole + b).
func calibrate(whole, best []float64, y []bool, passages bool) calibrated {
	var np, nn float64
	for _, yi := range y {
		if yi {
			np++
		} else {
			nn++
		}
	}
	hi, lo := (np+1)/(np+2), 1/(nn+2)
	target := make([]float64, len(y))
	for i, yi := range y {
		if yi {
			target[i] = hi
		} else {
			target[i] = lo
		}
	}
	// x = (a, b, c); c stays 0 without passages.
	z := func(x []float64, i int) float64 {
		v := x[0]*whole[i] + x[1]
		if passages {
			v += x[2] * best[i]
		}
		return v
	}
	problem := optimize.Problem{
		Func: func(x []float64) float64 {
			var loss float64
			for i := range whole {
				// Cross-entropy against a soft target.
				loss += logLoss(z(x, i), target[i])
			}
			return loss
		},
		Grad: func(grad, x []float64) {
			clear(grad)
			for i := range whole {
				r := sigmoid(z(x, i)) - target[i]
				grad[0] += r * whole[i]
				grad[1] += r
				if passages {
					grad[2] += r * best[i]
				}
			}
		},
	}
	x0 := []float64{1, 0, 0}
	c := calibrated{a: 1}
	// A line search that cannot improve further ends Minimize with an error
	// but still hands back the best point found, which is what we want.
	if res, _ := optimize.Minimize(problem, x0, &optimize.Settings{GradientThreshold: 1e-9, MajorIterations: 200}, &optimize.LBFGS{}); res != nil && res.F <= problem.Func(x0) {
		c.a, c.b, c.c = sanitize(res.X[0]), sanitize(res.X[1]), sanitize(res.X[2])
	}
	probs := make([]float64, len(whole))
	for i := range whole {
		probs[i], _ = c.decide(whole[i], best[i])
	}
	c.threshold = bestThreshold(probs, y)
	return c
}

// bestThreshold returns the probability cut that maximises F1 when every
// article at or above it is assigned: the midpoint between the lowest
// assigned and the highest unassigned probability, so small score noise does
// not flip decisions at the boundary. Ties go to the higher cut (fewer false
// alarms).
func bestThreshold(probs []float64, y []bool) float64 {
	idx := make([]int, len(probs))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case probs[a] > probs[b]:
			return -1
		case probs[a] < probs[b]:
			return 1
		}
		return 0
	})
	var pos int
	for _, yi := range y {
		if yi {
			pos++
		}
	}
	best, bestF1 := 0.5, -1.0
	tp, fp := 0, 0
	for k, i := range idx {
		if y[i] {
			tp++
		} else {
			fp++
		}
		if k+1 < len(idx) && probs[idx[k+1]] == probs[i] {
			continue // a cut cannot separate equal probabilities
		}
		f := f1(tp, fp, pos-tp)
		if f > bestF1 {
			bestF1 = f
			next := 0.0
			if k+1 < len(idx) {
				next = probs[idx[k+1]]
			}
			best = (probs[i] + next) / 2
		}
	}
	return best
}

// logLoss is the cross-entropy of the logit z against target t in [0, 1],
// log(1+e^z) − t·z, computed without overflow.
func logLoss(z, t float64) float64 {
	return math.Max(z, 0) + math.Log1p(math.Exp(-math.Abs(z))) - t*z
}
