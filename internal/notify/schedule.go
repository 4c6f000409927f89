package notify

import (
	"math/rand/v2"
	"time"
)

// Schedule is a retry policy. After the n-th failed attempt of a series
// (n from 1) the next attempt waits Delays[n-1] (the last delay repeats),
// give or take Jitter (a fraction); a failure that happens Window or more
// after the series began (fan-out, or a manual redelivery) ends it: the
// delivery is failed for good, until redelivered by hand.
type Schedule struct {
	Delays []time.Duration
	Window time.Duration
	Jitter float64
}

// DefaultSchedule serves native webhooks and Paykassma postbacks: 5 s,
// 1 min, 5 min, 30 min, 2 h, 5 h, then every 10 h, for at least three
// days. Attempts (without jitter) fall at 0, 5 s, 1 min 5 s, 6 min 5 s,
// 36 min 5 s, 2 h 36 min, 7 h 36 min, then every 10 h up to 77 h 36 min:
// 14 attempts.
var DefaultSchedule = Schedule{
	Delays: []time.Duration{5 * time.Second, time.Minute, 5 * time.Minute, 30 * time.Minute,
		2 * time.Hour, 5 * time.Hour, 10 * time.Hour},
	Window: 72 * time.Hour,
	Jitter: 0.1,
}

// MugglePaySchedule is MugglePay's own published schedule for its payment
// callbacks: 1, 2, 4, 8, 16, 32, 64, 128 and 256 minutes, doubling, "for up
// to 3 days". MugglePay does not say what follows 256 minutes; Coffer keeps
// 256 minutes (4 h 16 min) from then on until the three days have passed,
// so that a merchant back after an outage hears within about four hours.
var MugglePaySchedule = Schedule{
	Delays: []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 16 * time.Minute,
		32 * time.Minute, 64 * time.Minute, 128 * time.Minute, 256 * time.Minute},
	Window: 72 * time.Hour,
	Jitter: 0.1,
}

// Next returns when to try again after a failure at now, given how many
// failures the series had before this one and when it began; false means
// give up.
func (s Schedule) Next(retries int, seriesAt, now time.Time) (time.Time, bool) {
	if len(s.Delays) == 0 || now.Sub(seriesAt) >= s.Window {
		return time.Time{}, false
	}
	d := s.Delays[min(max(retries, 0), len(s.Delays)-1)]
	if s.Jitter > 0 {
		d += time.Duration((rand.Float64()*2 - 1) * s.Jitter * float64(d))
	}
	return now.Add(d), true
}
