package main

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"time"

	"github.com/sethvargo/go-envconfig"
)

// config is every variable refrecon's own code reads (SPEC 4, README
// "Configuration"): values are parsed here and checked by newPlan (run.go)
// or the command that uses them, and no other code in cmd reads the
// environment. Libraries read their own: the Go runtime GOMEMLIMIT and
// GOGC, net/http HTTPS_PROXY, the Google Cloud client
// GOOGLE_APPLICATION_CREDENTIALS.
type config struct {
	ReferralsSource string `env:"REFERRALS_SOURCE"` // sqlite:PATH, d1dump:PATH, d1; "" = the embedded fixture
	D1AccountID     string `env:"D1_ACCOUNT_ID"`
	D1DatabaseID    string `env:"D1_DATABASE_ID"`
	D1APIToken      string `env:"D1_API_TOKEN"`
	D1APIBase       string `env:"D1_API_BASE, default=https://api.cloudflare.com/client/v4"`

	StripeSource    string  `env:"STRIPE_SOURCE"` // file:PATH or api; "" = the embedded fixture
	StripeSecretKey string  `env:"STRIPE_SECRET_KEY"`
	StripeAPIBase   string  `env:"STRIPE_API_BASE"` // "" = Stripe's own
	StripeRateLimit float64 `env:"STRIPE_RATE_LIMIT, default=20"`

	CyclesURL string `env:"CUSTOM_REFERRAL_PROGRAM_CYCLES"`

	AsOf           string `env:"AS_OF"` // RFC 3339; "" = now, truncated to the second
	PublicDir      string `env:"PUBLIC_DIR, default=./out/public"`
	PrivateDir     string `env:"PRIVATE_DIR, default=./out/private"`
	Warehouse      string `env:"WAREHOUSE, default=sqlite:./out/warehouse.sqlite"`
	RecordsPerPage int    `env:"RECORDS_PER_PAGE, default=25"`
	// LatestCacheControl is latest.json's Cache-Control (SPEC 3.1).
	LatestCacheControl string `env:"LATEST_CACHE_CONTROL, default=public, max-age=60"`
	// PublicConcurrency is how many uploads a publish to a bucket runs at once.
	PublicConcurrency int `env:"PUBLIC_CONCURRENCY, default=32"`
	// PublicServerCopy reuses unchanged objects by server-side copy.
	PublicServerCopy bool `env:"PUBLIC_SERVER_COPY, default=false"`

	BigQueryEndpoint string `env:"BIGQUERY_ENDPOINT"` // "" = Google's; a local fake or emulator in tests
	BigQueryLocation string `env:"BIGQUERY_LOCATION, default=US"`

	Schedule      string        `env:"SCHEDULE, default=0 4 * * *"`
	RunTimeout    time.Duration `env:"RUN_TIMEOUT, default=1h"`
	ShutdownGrace time.Duration `env:"SHUTDOWN_GRACE, default=5m"`
	KeepSnapshots int           `env:"KEEP_SNAPSHOTS, default=30"`
	LockWait      bool          `env:"LOCK_WAIT, default=false"` // wait for another process holding PUBLIC_DIR
	// PublishGuardMaxDrop is how far (percent) the users, referrals,
	// customers or invoices count may drop against the previous snapshot
	// before a run refuses to publish; run --force (a flag, never a
	// variable) publishes anyway, for that run only.
	PublishGuardMaxDrop int    `env:"PUBLISH_GUARD_MAX_DROP, default=10"`
	MemoryLimit         string `env:"MEMORY_LIMIT"` // GC soft limit: 2560MiB, 3GiB, off; "" = see applyMemoryLimit

	// The write credentials of `settle apply` alone (SPEC 2.8); run and
	// schedule never read them.
	SettleStripeCredit    bool   `env:"SETTLE_STRIPE_CREDIT, default=false"`
	SettleStripeSecretKey string `env:"SETTLE_STRIPE_SECRET_KEY"`
	SettleD1APIToken      string `env:"SETTLE_D1_API_TOKEN"`

	LogFormat string `env:"LOG_FORMAT, default=json"`
	LogLevel  string `env:"LOG_LEVEL, default=info"`

	// For measurements (docs/performance.md), not documented for operators.
	CPUProfile string `env:"REFRECON_CPUPROFILE"` // write a pprof CPU profile of the run here
	MemProfile string `env:"REFRECON_MEMPROFILE"` // write a pprof heap profile at the run's peak here
	// GOMEMLIMIT and GOGC are the Go runtime's own; they are read here
	// only to know whether they are set (applyMemoryLimit, applyGCPercent).
	GoMemLimit string `env:"GOMEMLIMIT"`
	GoGC       string `env:"GOGC"`
}

// loadConfig reads the environment through lookuper (envconfig.OsLookuper()
// in production, a map in tests).
func loadConfig(ctx context.Context, l envconfig.Lookuper) (*config, error) {
	var c config
	cfg := &envconfig.Config{Target: &c, Lookuper: l, Mutators: []envconfig.Mutator{envconfig.MutatorFunc(decimalNumbers)}}
	if err := envconfig.ProcessWith(ctx, cfg); err != nil {
		return nil, asConfigError(errors.New(nameVariables(err.Error())))
	}
	return &c, nil
}

// numericKinds maps each variable read into an integer or float field (not
// a time.Duration) to its kind; decimalNumbers checks their values.
var numericKinds = func() map[string]reflect.Kind {
	m := map[string]reflect.Kind{}
	t := reflect.TypeFor[config]()
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("env"), ",")
		if name == "" || f.Type == reflect.TypeFor[time.Duration]() {
			continue
		}
		switch k := f.Type.Kind(); k {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
			reflect.Float32, reflect.Float64:
			m[name] = k
		}
	}
	return m
}()

var (
	decimalInt   = regexp.MustCompile(`^[+-]?[0-9]+$`)
	decimalFloat = regexp.MustCompile(`^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$`)
)

// decimalNumbers makes every numeric variable decimal only. go-envconfig
// parses integers with base 0, so RECORDS_PER_PAGE=025 would be octal 21 and
// 0x19 hexadecimal 25, and floats with strconv.ParseFloat, which takes
// "Inf", "NaN" and hexadecimal floats. An integer's leading zeros are
// dropped (025 is 25); anything but decimal digits (and a sign, and for a
// float one point and an exponent) is an error naming the variable.
func decimalNumbers(_ context.Context, key, _, _, v string) (string, bool, error) {
	k, ok := numericKinds[key]
	if !ok {
		return v, false, nil
	}
	if k == reflect.Float32 || k == reflect.Float64 {
		if !decimalFloat.MatchString(v) {
			return "", true, fmt.Errorf("%q is not a decimal number", v)
		}
		return v, false, nil
	}
	if !decimalInt.MatchString(v) {
		return "", true, fmt.Errorf("%q is not a decimal integer", v)
	}
	sign, digits := "", v
	if v[0] == '+' || v[0] == '-' {
		sign, digits = v[:1], v[1:]
	}
	if digits = strings.TrimLeft(digits, "0"); digits == "" {
		return "0", false, nil
	}
	return sign + digits, false, nil
}

// nameVariables rewrites go-envconfig's messages, which name the Go field
// ("RecordsPerPage: strconv.ParseInt: ..."), to name the variable a person
// set ("RECORDS_PER_PAGE: strconv.ParseInt: ...").
func nameVariables(msg string) string {
	t := reflect.TypeFor[config]()
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("env"), ",")
		if strings.HasPrefix(msg, f.Name+":") {
			return name + msg[len(f.Name):]
		}
	}
	return msg
}
