package main

// Blank imports that keep go.mod and go.sum complete while the packages that
// use these modules are being written. Remove once each is imported for real.
import (
	_ "cloud.google.com/go/bigquery"
	_ "cloud.google.com/go/civil"
	_ "github.com/robfig/cron/v3"
	_ "github.com/rs/zerolog"
	_ "github.com/sethvargo/go-envconfig"
	_ "github.com/stripe/stripe-go/v76"
	_ "github.com/stripe/stripe-go/v76/client"
	_ "golang.org/x/time/rate"
	_ "google.golang.org/api/googleapi"
	_ "google.golang.org/api/option"
	_ "modernc.org/sqlite"
)
