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
