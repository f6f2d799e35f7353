package broker

import (
	"encoding/base64"
	"fmt"
	"io/fs"
	"net/url"
	"path"
	"strings"

	"sigs.k8s.io/yaml"
)

// The API groups whose objects Load keeps; every other apiVersion/kind is skipped, because the
// same directory also feeds the cluster (RBAC, ApiServerSource, kustomization, …).
const (
	eventingV1 = "eventing.knative.dev/v1"
	sourcesV1  = "sources.knative.dev/v1"
)

// Config is the Knative wiring the local broker follows, as Load reads it.
type Config struct {
	Brokers     []BrokerSpec // every eventing.knative.dev/v1 Broker
	Triggers    []Trigger    // every eventing.knative.dev/v1 Trigger, of any broker
	PingSources []PingSource // every sources.knative.dev/v1 PingSource
}

// BrokerSpec is a Broker: its name and the delivery its triggers inherit.
type BrokerSpec struct {
	Name     string        // metadata.name
	Delivery *DeliverySpec // spec.delivery; nil when absent
}

// Trigger subscribes one destination to the events of one broker that pass its filter.
type Trigger struct {
	Name       string            // metadata.name
	Broker     string            // spec.broker
	Attributes map[string]string // legacy spec.filter.attributes; "" means "present with any value"
	Filters    []Filter          // spec.filters (SubscriptionsAPI); when set, Attributes is ignored
	Subscriber Destination       // spec.subscriber
	Delivery   *DeliverySpec     // spec.delivery; overrides the broker's field by field
}

// DeliverySpec is Knative's duck DeliverySpec, restricted to what the local broker honours.
type DeliverySpec struct {
	Retry          *int32       `json:"retry,omitempty"`          // retries after the first attempt; nil inherits, absent everywhere means 0
	BackoffPolicy  string       `json:"backoffPolicy,omitempty"`  // "linear" or "exponential" ("" inherits; exponential by default)
	BackoffDelay   string       `json:"backoffDelay,omitempty"`   // ISO 8601 duration, e.g. PT0.5S
	DeadLetterSink *Destination `json:"deadLetterSink,omitempty"` // where undeliverable events go
}

// Destination is Knative's duck Destination: a reference, a URI, or a URI relative to the reference.
type Destination struct {
	Ref *Reference `json:"ref,omitempty"` // an addressable object; mapped to a URL by Options.Resolve
	URI string     `json:"uri,omitempty"` // absolute, or relative to Ref's URL when Ref is set
}

// Reference names a Kubernetes object, e.g. a Knative Service.
type Reference struct {
	APIVersion string `json:"apiVersion,omitempty"` // e.g. serving.knative.dev/v1
	Kind       string `json:"kind,omitempty"`       // e.g. Service, Broker
	Name       string `json:"name,omitempty"`       // the object's metadata.name
	Namespace  string `json:"namespace,omitempty"`  // "" means the namespace of the referring object
}

// PingSource emits an event on a cron schedule.
type PingSource struct {
	Name        string      // metadata.name
	Schedule    string      // cron; spec.timezone becomes a CRON_TZ= prefix
	ContentType string      // spec.contentType; "" means application/json
	Data        string      // spec.data, or spec.dataBase64 decoded
	Sink        Destination // spec.sink; only a Broker ref is run by the local broker
}

// Filter is one SubscriptionsAPI filter expression. Every part that is set must hold; Load accepts
// exactly one part per expression, as the Knative webhook does.
type Filter struct {
	Exact  map[string]string // each attribute equals its value
	Prefix map[string]string // each attribute starts with its value
	Suffix map[string]string // each attribute ends with its value
	All    []Filter          // every sub-filter matches
	Any    []Filter          // at least one sub-filter matches
	Not    *Filter           // the sub-filter does not match
}

// object is the envelope every Kubernetes manifest shares; spec is decoded per kind.
type object struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name string `json:"name"`
	} `json:"metadata"`
}

type brokerObject struct {
	Spec struct {
		Delivery *DeliverySpec `json:"delivery"`
	} `json:"spec"`
}

type triggerObject struct {
	Spec struct {
		Broker string `json:"broker"`
		Filter *struct {
			Attributes map[string]string `json:"attributes"`
		} `json:"filter"`
		Filters    []rawFilter   `json:"filters"`
		Subscriber Destination   `json:"subscriber"`
		Delivery   *DeliverySpec `json:"delivery"`
	} `json:"spec"`
}

type pingSourceObject struct {
	Spec struct {
		Schedule    string      `json:"schedule"`
		Timezone    string      `json:"timezone"`
		ContentType string      `json:"contentType"`
		Data        string      `json:"data"`
		DataBase64  string      `json:"dataBase64"`
		Sink        Destination `json:"sink"`
	} `json:"spec"`
}

// rawFilter mirrors the YAML of a SubscriptionsAPI filter, including the CESQL dialect, so that a
// filter the local broker cannot evaluate is refused instead of silently matching everything.
type rawFilter struct {
	Exact  map[string]string `json:"exact"`
	Prefix map[string]string `json:"prefix"`
	Suffix map[string]string `json:"suffix"`
	All    []rawFilter       `json:"all"`
	Any    []rawFilter       `json:"any"`
	Not    *rawFilter        `json:"not"`
	CESQL  string            `json:"cesql"`
}

// Load reads every *.yaml/*.yml file at the root of fsys (multi-document YAML, split on '---' lines),
// keeping Broker (eventing.knative.dev/v1), Trigger (eventing.knative.dev/v1) and PingSource (sources.knative.dev/v1)
// objects and skipping every other kind. Errors name the file and object.
func Load(fsys fs.FS) (Config, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return Config{}, fmt.Errorf("load broker config: %w", err)
	}
	var cfg Config
	seen := map[string]string{} // "Kind/name" → file, to refuse duplicates
	for _, entry := range entries {
		ext := path.Ext(entry.Name())
		if entry.IsDir() || (ext != ".yaml" && ext != ".yml") {
			continue
		}
		data, err := fs.ReadFile(fsys, entry.Name())
		if err != nil {
			return Config{}, fmt.Errorf("load broker config: %w", err)
		}
		for i, doc := range splitDocuments(data) {
			if err := cfg.add(doc.body, seen, entry.Name()); err != nil {
				return Config{}, fmt.Errorf("load broker config: %s: document %d at line %d%w", entry.Name(), i+1, doc.line, err)
			}
		}
	}
	return cfg, nil
}

// add decodes one YAML document into cfg. Its errors start with ": " or " (Kind name): " so that
// Load can prefix the file and document number.
func (cfg *Config) add(doc []byte, seen map[string]string, file string) error {
	var obj object
	if err := yaml.Unmarshal(doc, &obj); err != nil {
		return fmt.Errorf(": %w", err)
	}
	keep := (obj.APIVersion == eventingV1 && (obj.Kind == "Broker" || obj.Kind == "Trigger")) ||
		(obj.APIVersion == sourcesV1 && obj.Kind == "PingSource")
	if !keep {
		return nil
	}
	name := obj.Metadata.Name
	if name == "" {
		return fmt.Errorf(" (%s): metadata.name is required", obj.Kind)
	}
	key := obj.Kind + "/" + name
	if prev, dup := seen[key]; dup {
		return fmt.Errorf(" (%s %s): already defined in %s", obj.Kind, name, prev)
	}
	seen[key] = file

	var err error
	switch obj.Kind {
	case "Broker":
		err = cfg.addBroker(doc, name)
	case "Trigger":
		err = cfg.addTrigger(doc, name)
	case "PingSource":
		err = cfg.addPingSource(doc, name)
	}
	if err != nil {
		return fmt.Errorf(" (%s %s): %w", obj.Kind, name, err)
	}
	return nil
}

func (cfg *Config) addBroker(doc []byte, name string) error {
	var b brokerObject
	if err := yaml.Unmarshal(doc, &b); err != nil {
		return err
	}
	cfg.Brokers = append(cfg.Brokers, BrokerSpec{Name: name, Delivery: b.Spec.Delivery})
	return nil
}

func (cfg *Config) addTrigger(doc []byte, name string) error {
	var t triggerObject
	if err := yaml.Unmarshal(doc, &t); err != nil {
		return err
	}
	if t.Spec.Broker == "" {
		return fmt.Errorf("spec.broker is required")
	}
	if err := checkDestination(t.Spec.Subscriber); err != nil {
		return fmt.Errorf("spec.subscriber: %w", err)
	}
	filters, err := convertFilters(t.Spec.Filters, "spec.filters")
	if err != nil {
		return err
	}
	trigger := Trigger{
		Name:       name,
		Broker:     t.Spec.Broker,
		Filters:    filters,
		Subscriber: t.Spec.Subscriber,
		Delivery:   t.Spec.Delivery,
	}
	if t.Spec.Filter != nil {
		trigger.Attributes = t.Spec.Filter.Attributes
	}
	cfg.Triggers = append(cfg.Triggers, trigger)
	return nil
}

func (cfg *Config) addPingSource(doc []byte, name string) error {
	var p pingSourceObject
	if err := yaml.Unmarshal(doc, &p); err != nil {
		return err
	}
	if p.Spec.Schedule == "" {
		return fmt.Errorf("spec.schedule is required")
	}
	if err := checkDestination(p.Spec.Sink); err != nil {
		return fmt.Errorf("spec.sink: %w", err)
	}
	data := p.Spec.Data
	if p.Spec.DataBase64 != "" {
		if data != "" {
			return fmt.Errorf("spec.data and spec.dataBase64 are mutually exclusive")
		}
		raw, err := base64.StdEncoding.DecodeString(p.Spec.DataBase64)
		if err != nil {
			return fmt.Errorf("spec.dataBase64: %w", err)
		}
		data = string(raw)
	}
	schedule := p.Spec.Schedule
	if p.Spec.Timezone != "" {
		// robfig/cron reads the zone from this prefix, which keeps PingSource a plain struct.
		schedule = "CRON_TZ=" + p.Spec.Timezone + " " + schedule
	}
	cfg.PingSources = append(cfg.PingSources, PingSource{
		Name:        name,
		Schedule:    schedule,
		ContentType: p.Spec.ContentType,
		Data:        data,
		Sink:        p.Spec.Sink,
	})
	return nil
}

// checkDestination refuses what Knative's webhook refuses: nothing to send to, a nameless ref,
// or a relative URI with no ref to resolve it against.
func checkDestination(d Destination) error {
	switch {
	case d.Ref == nil && d.URI == "":
		return fmt.Errorf("ref or uri is required")
	case d.Ref != nil && d.Ref.Name == "":
		return fmt.Errorf("ref.name is required")
	case d.Ref == nil:
		if u, err := url.Parse(d.URI); err != nil || !u.IsAbs() {
			return fmt.Errorf("uri %q must be absolute when there is no ref", d.URI)
		}
	}
	return nil
}

// convertFilters turns YAML filters into Filters, refusing what the Knative webhook refuses
// (zero or several dialects in one expression) and the CESQL dialect, which is not evaluated here.
func convertFilters(raws []rawFilter, field string) ([]Filter, error) {
	if raws == nil {
		return nil, nil
	}
	out := make([]Filter, 0, len(raws))
	for i, raw := range raws {
		f, err := convertFilter(raw, fmt.Sprintf("%s[%d]", field, i))
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

func convertFilter(raw rawFilter, field string) (Filter, error) {
	if raw.CESQL != "" {
		return Filter{}, fmt.Errorf("%s: the cesql dialect is not supported by the local broker", field)
	}
	set := 0
	for _, present := range []bool{raw.Exact != nil, raw.Prefix != nil, raw.Suffix != nil, raw.All != nil, raw.Any != nil, raw.Not != nil} {
		if present {
			set++
		}
	}
	if set != 1 {
		return Filter{}, fmt.Errorf("%s: exactly one of exact, prefix, suffix, all, any, not is required", field)
	}
	f := Filter{Exact: raw.Exact, Prefix: raw.Prefix, Suffix: raw.Suffix}
	var err error
	if f.All, err = convertFilters(raw.All, field+".all"); err != nil {
		return Filter{}, err
	}
	if f.Any, err = convertFilters(raw.Any, field+".any"); err != nil {
		return Filter{}, err
	}
	if raw.Not != nil {
		not, err := convertFilter(*raw.Not, field+".not")
		if err != nil {
			return Filter{}, err
		}
		f.Not = &not
	}
	return f, nil
}

// document is one YAML document of a file and the line it starts on, for error messages.
type document struct {
	line int
	body []byte
}

// splitDocuments splits a YAML stream on lines that start a new document ("---", optionally
// followed by a comment) and drops blank documents. A document of only comments comes back; it
// decodes to an object without a kind and is skipped.
func splitDocuments(data []byte) []document {
	var docs []document
	var cur []string
	start := 1
	flush := func(next int) {
		body := strings.Join(cur, "\n")
		if strings.TrimSpace(body) != "" {
			docs = append(docs, document{line: start, body: []byte(body)})
		}
		cur, start = cur[:0], next
	}
	n := 0
	for line := range strings.Lines(string(data)) {
		n++
		line = strings.TrimRight(line, "\r\n")
		if rest, ok := strings.CutPrefix(line, "---"); ok {
			rest = strings.TrimSpace(rest)
			if rest == "" || strings.HasPrefix(rest, "#") {
				flush(n + 1)
				continue
			}
		}
		cur = append(cur, line)
	}
	flush(n + 1)
	return docs
}
