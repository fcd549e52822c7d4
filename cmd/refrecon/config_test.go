package main

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/sethvargo/go-envconfig"
)

func TestLoadConfigNamesTheVariable(t *testing.T) {
	_, err := loadConfig(context.Background(), envconfig.MapLookuper(map[string]string{"RECORDS_PER_PAGE": "many"}))
	var cfgErr *configError
	if !errors.As(err, &cfgErr) {
		t.Fatalf("loadConfig: got %v, want a configuration error", err)
	}
	if !strings.HasPrefix(err.Error(), "RECORDS_PER_PAGE:") {
		t.Errorf("error %q does not start with the variable's name", err)
	}
}

func TestLoadConfigDefaults(t *testing.T) {
	c, err := loadConfig(context.Background(), envconfig.MapLookuper(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.PublicDir != "./out/public" || c.Warehouse != "sqlite:./out/warehouse.sqlite" || c.RecordsPerPage != 25 ||
		c.Schedule != "0 4 * * *" || c.StripeRateLimit != 20 || c.D1APIBase != "https://api.cloudflare.com/client/v4" {
		t.Errorf("defaults: %+v", c)
	}
}

// Every numeric variable is decimal: go-envconfig alone reads 025 as octal
// 21 and accepts 0x19, Inf and NaN.
func TestNumericVariablesAreDecimal(t *testing.T) {
	load := func(kv ...string) (*config, error) {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return loadConfig(context.Background(), envconfig.MapLookuper(m))
	}
	c, err := load("RECORDS_PER_PAGE", "025", "KEEP_SNAPSHOTS", "007", "STRIPE_RATE_LIMIT", "02.5")
	if err != nil {
		t.Fatal(err)
	}
	if c.RecordsPerPage != 25 || c.KeepSnapshots != 7 || c.StripeRateLimit != 2.5 {
		t.Errorf("got RECORDS_PER_PAGE %d, KEEP_SNAPSHOTS %d, STRIPE_RATE_LIMIT %v; want 25, 7, 2.5", c.RecordsPerPage, c.KeepSnapshots, c.StripeRateLimit)
	}
	if c, err := load("RECORDS_PER_PAGE", "000"); err != nil || c.RecordsPerPage != 0 {
		t.Errorf("000: %v, %v", c, err)
	}
	for name := range numericKinds {
		for _, v := range []string{"0x19", "0o31", "0b11001", "1_000", "Inf", "NaN", "-Inf", "0x1p4", " 25", "25 ", ""} {
			_, err := load(name, v)
			var cfgErr *configError
			if !errors.As(err, &cfgErr) || !strings.HasPrefix(err.Error(), name+":") {
				t.Errorf("%s=%q: got %v, want a configuration error naming %s", name, v, err, name)
			}
		}
	}
	for _, name := range []string{"RECORDS_PER_PAGE", "KEEP_SNAPSHOTS", "STRIPE_RATE_LIMIT"} {
		if _, ok := numericKinds[name]; !ok {
			t.Errorf("%s is not checked as a number", name)
		}
	}
}
