package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/coffer-pay/coffer/internal/notify"
	"github.com/coffer-pay/coffer/internal/store"
)

// coffer webhook …: manage webhook endpoints and redeliver events, on the
// database itself (--db), like coffer verify. Running servers see endpoint
// changes within notify.DefaultRefresh, and redeliveries at their next
// poll.

type webhookCommand struct {
	name, summary string
	run           func(ctx context.Context, env *Env, args []string) error
}

func webhookCommands() []webhookCommand {
	return []webhookCommand{
		{"create", "add an endpoint for a merchant and print its secret", runWebhookCreate},
		{"list", "list endpoints and their state", runWebhookList},
		{"delete", "delete an endpoint (its pending deliveries are cancelled)", runWebhookDelete},
		{"rotate", "give an endpoint a new secret; the old one stays valid for --grace", runWebhookRotate},
		{"enable", "enable an endpoint again (after a 410 Gone, say) and send what waited", runWebhookEnable},
		{"log", "show an event's deliveries and every attempt", runWebhookLog},
		{"redeliver", "send one event again (--event), or everything that failed since a time (--failed-since)", runWebhookRedeliver},
	}
}

func runWebhook(ctx context.Context, env *Env, args []string) error {
	usage := func(w io.Writer) {
		fmt.Fprintln(w, "Usage: coffer webhook <command> [flags]\n\nManage webhook endpoints and deliveries on the database (--db).\n\nCommands:")
		for _, c := range webhookCommands() {
			fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
		}
		fmt.Fprintln(w, "\nRun 'coffer webhook <command> --help' for its flags. docs/webhooks.md explains delivery.")
	}
	if len(args) == 0 {
		usage(env.Stderr)
		return errUsage
	}
	switch args[0] {
	case "-h", "--help", "help":
		usage(env.Stdout)
		return nil
	}
	for _, c := range webhookCommands() {
		if c.name == args[0] {
			return c.run(ctx, env, args[1:])
		}
	}
	fmt.Fprintf(env.Stderr, "coffer webhook: unknown command %q\n\n", args[0])
	usage(env.Stderr)
	return errUsage
}

// webhookService opens the database and returns the notify service on it,
// sealing signing secrets with the master key as the server does.
func webhookService(ctx context.Context, db string, allowPrivate bool) (*notify.Service, func(), error) {
	st, err := openStore(ctx, db, false, false)
	if err != nil {
		return nil, nil, err
	}
	quiet := slog.New(slog.DiscardHandler)
	sealer, err := loadSealer(ctx, &Env{Stdout: io.Discard, Stderr: os.Stderr}, st, db, os.Getenv("COFFER_MASTER_KEY_FILE"), quiet)
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return notify.NewService(st, notify.ServiceOptions{AllowPrivate: allowPrivate, Box: sealer}), func() { st.Close() }, nil
}

// cliError words the service's errors for the command line.
func cliError(err error) error {
	var ie *notify.InputError
	if errors.As(err, &ie) {
		return fmt.Errorf("--%s: %s", strings.ReplaceAll(ie.Field, "_", "-"), ie.Message)
	}
	return err
}

func runWebhookCreate(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "webhook create", "Add a webhook endpoint for a merchant and print its secret (shown only now).")
	db := dbFlag(fs)
	merchant := fs.Int64("merchant", 1, "the merchant whose events it receives")
	url := fs.String("url", "", "the endpoint's URL (http or https)")
	events := fs.String("events", "", `event types, comma-separated: exact ("order.paid"), prefixes ("transfer.*") or "*"`)
	desc := fs.String("description", "", "a note for operators")
	allowPrivate := fs.Bool("allow-private-webhooks", false, "accept a loopback, private or link-local address")
	if err := parse(env, fs, args); err != nil {
		return err
	}
	svc, done, err := webhookService(ctx, *db, *allowPrivate)
	if err != nil {
		return err
	}
	defer done()
	var types []string
	for _, t := range strings.Split(*events, ",") {
		if t = strings.TrimSpace(t); t != "" {
			types = append(types, t)
		}
	}
	if types == nil {
		types = []string{}
	}
	ep, err := svc.CreateEndpoint(ctx, *merchant, notify.EndpointInput{URL: url, Description: desc, EventTypes: types})
	if err != nil {
		return cliError(err)
	}
	fmt.Fprintf(env.Stdout, "webhook endpoint %d created for merchant %d: %s (%s)\n", ep.ID, ep.MerchantID, ep.URL, strings.Join(ep.EventTypes, ", "))
	fmt.Fprintf(env.Stdout, "\nSigning secret (shown only this once; keep it safe):\n\n  %s\n", ep.Secret)
	return nil
}

func runWebhookList(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "webhook list", "List webhook endpoints: id, merchant, state, failures, URL and event types.")
	db := dbFlag(fs)
	merchant := fs.Int64("merchant", 0, "only this merchant's (0: every merchant)")
	if err := parse(env, fs, args); err != nil {
		return err
	}
	svc, done, err := webhookService(ctx, *db, false)
	if err != nil {
		return err
	}
	defer done()
	eps, err := svc.Endpoints(ctx, *merchant)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(env.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tMERCHANT\tSTATE\tFAILURES\tURL\tEVENTS")
	for _, ep := range eps {
		state := "enabled"
		switch {
		case !ep.Enabled && ep.DisabledReason != "":
			state = "disabled (" + ep.DisabledReason + ")"
		case !ep.Enabled:
			state = "disabled"
		case ep.FailingSince != nil:
			state = "failing since " + ep.FailingSince.Format(time.RFC3339)
		}
		fmt.Fprintf(w, "%d\t%d\t%s\t%d\t%s\t%s\n", ep.ID, ep.MerchantID, state, ep.Failures, ep.URL, strings.Join(ep.EventTypes, ","))
	}
	return w.Flush()
}

// idFlags registers --db and --id.
func idFlags(fs *flag.FlagSet) (db *string, id *int64) {
	return dbFlag(fs), fs.Int64("id", 0, "the endpoint's id (see coffer webhook list)")
}

func runWebhookDelete(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "webhook delete", "Delete a webhook endpoint. Its pending deliveries are cancelled; its delivery log is kept.")
	db, id := idFlags(fs)
	if err := parse(env, fs, args); err != nil {
		return err
	}
	svc, done, err := webhookService(ctx, *db, false)
	if err != nil {
		return err
	}
	defer done()
	if err := svc.DeleteEndpoint(ctx, 0, *id); err != nil {
		return cliError(err)
	}
	fmt.Fprintf(env.Stdout, "webhook endpoint %d deleted\n", *id)
	return nil
}

func runWebhookRotate(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "webhook rotate", "Give a webhook endpoint a new secret. Until --grace has passed, every request is signed with both\nsecrets, so that the receiver can switch at its own pace.")
	db, id := idFlags(fs)
	grace := fs.Duration("grace", notify.DefaultGrace, "how long the old secret stays valid (0 ends it now; at most 168h)")
	if err := parse(env, fs, args); err != nil {
		return err
	}
	svc, done, err := webhookService(ctx, *db, false)
	if err != nil {
		return err
	}
	defer done()
	g := *grace
	if g == 0 {
		g = -1
	}
	ep, err := svc.RotateSecret(ctx, 0, *id, g)
	if err != nil {
		return cliError(err)
	}
	fmt.Fprintf(env.Stdout, "webhook endpoint %d has a new secret", ep.ID)
	if ep.PrevExpiresAt != nil {
		fmt.Fprintf(env.Stdout, "; the old one stays valid until %s", ep.PrevExpiresAt.Format(time.RFC3339))
	}
	fmt.Fprintf(env.Stdout, ".\n\nSigning secret (shown only this once; keep it safe):\n\n  %s\n", ep.Secret)
	return nil
}

func runWebhookEnable(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "webhook enable", "Enable a webhook endpoint again; what waited for it is sent at once.")
	db, id := idFlags(fs)
	if err := parse(env, fs, args); err != nil {
		return err
	}
	svc, done, err := webhookService(ctx, *db, false)
	if err != nil {
		return err
	}
	defer done()
	on := true
	if _, err := svc.UpdateEndpoint(ctx, 0, *id, notify.EndpointInput{Enabled: &on}); err != nil {
		return cliError(err)
	}
	fmt.Fprintf(env.Stdout, "webhook endpoint %d enabled\n", *id)
	return nil
}

func runWebhookLog(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "webhook log", "Show an event's deliveries and each attempt: status, duration and error.")
	db := dbFlag(fs)
	event := fs.String("event", "", "the event's id (evt_…)")
	if err := parse(env, fs, args); err != nil {
		return err
	}
	svc, done, err := webhookService(ctx, *db, false)
	if err != nil {
		return err
	}
	defer done()
	ev, err := svc.Event(ctx, 0, *event)
	if err != nil {
		return err
	}
	logs, err := svc.EventDeliveries(ctx, 0, *event)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "event %s  %s  merchant %d  subject %q  created %s\n", ev.ID, ev.Type, ev.MerchantID, ev.Subject, ev.CreatedAt.Format(time.RFC3339Nano))
	if len(logs) == 0 {
		fmt.Fprintln(env.Stdout, "no deliveries (none yet, or nobody receives this event)")
	}
	for _, l := range logs {
		dest := l.URL
		if l.EndpointID != 0 {
			dest = fmt.Sprintf("endpoint %d", l.EndpointID)
		}
		fmt.Fprintf(env.Stdout, "\ndelivery %d  %s to %s  %s, %d attempts", l.ID, l.Format, dest, l.State, l.Attempts)
		if l.State == store.DeliveryPending {
			fmt.Fprintf(env.Stdout, ", next at %s", l.NextAt.Format(time.RFC3339))
		}
		fmt.Fprintln(env.Stdout)
		for _, a := range l.Log {
			fmt.Fprintf(env.Stdout, "  #%d  %s  %s  %v  status %d  %s\n", a.N, a.At.Format(time.RFC3339), a.URL, a.Duration, a.Status, a.Error)
		}
	}
	return nil
}

func runWebhookRedeliver(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "webhook redeliver", "Send one event again to each of its destinations (--event), or every delivery that failed at or\nafter a time (--failed-since: an RFC 3339 time, or a duration such as 6h meaning that long ago).")
	db := dbFlag(fs)
	event := fs.String("event", "", "the event's id (evt_…)")
	since := fs.String("failed-since", "", "a time (2025-03-14T15:00:00Z) or a duration ago (6h)")
	merchant := fs.Int64("merchant", 0, "with --failed-since: only this merchant's (0: every merchant)")
	if err := parse(env, fs, args); err != nil {
		return err
	}
	if (*event == "") == (*since == "") {
		fmt.Fprintln(env.Stderr, "give either --event or --failed-since")
		fs.Usage()
		return errUsage
	}
	var from time.Time
	if *since != "" {
		var err error
		if from, err = time.Parse(time.RFC3339Nano, *since); err != nil {
			d, derr := time.ParseDuration(*since)
			if derr != nil || d <= 0 {
				return fmt.Errorf("--failed-since %q: want an RFC 3339 time or a positive duration", *since)
			}
			from = time.Now().Add(-d)
		}
	}
	svc, done, err := webhookService(ctx, *db, false)
	if err != nil {
		return err
	}
	defer done()
	var n int
	if *event != "" {
		n, err = svc.RedeliverEvent(ctx, 0, *event)
	} else {
		n, err = svc.RedeliverFailed(ctx, *merchant, from)
	}
	if err != nil {
		return cliError(err)
	}
	fmt.Fprintf(env.Stdout, "%d deliveries scheduled again\n", n)
	return nil
}
