// Component factories of the Phoenix collector distribution, laid out the way
// the OpenTelemetry Collector builder (ocb) generates components.go.
// Every collector module is pinned to the v0.160.0 release (core stable
// modules at the matching v1.66.0); keep the module strings below in step with
// go.mod when upgrading.

package main

import (
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/connector"
	"go.opentelemetry.io/collector/exporter"
	debugexporter "go.opentelemetry.io/collector/exporter/debugexporter"
	otlphttpexporter "go.opentelemetry.io/collector/exporter/otlphttpexporter"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/otelcol"
	"go.opentelemetry.io/collector/processor"
	batchprocessor "go.opentelemetry.io/collector/processor/batchprocessor"
	memorylimiterprocessor "go.opentelemetry.io/collector/processor/memorylimiterprocessor"
	"go.opentelemetry.io/collector/receiver"
	otlpreceiver "go.opentelemetry.io/collector/receiver/otlpreceiver"
	"go.opentelemetry.io/collector/service/telemetry/otelconftelemetry"

	prometheusremotewriteexporter "github.com/open-telemetry/opentelemetry-collector-contrib/exporter/prometheusremotewriteexporter"
	cumulativetodeltaprocessor "github.com/open-telemetry/opentelemetry-collector-contrib/processor/cumulativetodeltaprocessor"
	deltatocumulativeprocessor "github.com/open-telemetry/opentelemetry-collector-contrib/processor/deltatocumulativeprocessor"
	filterprocessor "github.com/open-telemetry/opentelemetry-collector-contrib/processor/filterprocessor"
	groupbyattrsprocessor "github.com/open-telemetry/opentelemetry-collector-contrib/processor/groupbyattrsprocessor"
	intervalprocessor "github.com/open-telemetry/opentelemetry-collector-contrib/processor/intervalprocessor"
	metricstransformprocessor "github.com/open-telemetry/opentelemetry-collector-contrib/processor/metricstransformprocessor"
	resourceprocessor "github.com/open-telemetry/opentelemetry-collector-contrib/processor/resourceprocessor"
	transformprocessor "github.com/open-telemetry/opentelemetry-collector-contrib/processor/transformprocessor"
	hostmetricsreceiver "github.com/open-telemetry/opentelemetry-collector-contrib/receiver/hostmetricsreceiver"

	"github.com/phoenixotel/phoenix/deploy/collector/topkprocessor"
)

const (
	coreVersion    = " v0.160.0"
	contribVersion = " v0.160.0"
	coreModule     = "go.opentelemetry.io/collector/"
	contribModule  = "github.com/open-telemetry/opentelemetry-collector-contrib/"
)

func components() (otelcol.Factories, error) {
	var err error
	factories := otelcol.Factories{
		Telemetry: otelconftelemetry.NewFactory(),
	}

	factories.Extensions, err = otelcol.MakeFactoryMap[extension.Factory]()
	if err != nil {
		return otelcol.Factories{}, err
	}
	factories.ExtensionModules = make(map[component.Type]string, len(factories.Extensions))

	factories.Receivers, err = otelcol.MakeFactoryMap[receiver.Factory](
		otlpreceiver.NewFactory(),
		hostmetricsreceiver.NewFactory(),
	)
	if err != nil {
		return otelcol.Factories{}, err
	}
	factories.ReceiverModules = make(map[component.Type]string, len(factories.Receivers))
	factories.ReceiverModules[otlpreceiver.NewFactory().Type()] = coreModule + "receiver/otlpreceiver" + coreVersion
	factories.ReceiverModules[hostmetricsreceiver.NewFactory().Type()] = contribModule + "receiver/hostmetricsreceiver" + contribVersion

	factories.Exporters, err = otelcol.MakeFactoryMap[exporter.Factory](
		debugexporter.NewFactory(),
		otlphttpexporter.NewFactory(),
		prometheusremotewriteexporter.NewFactory(),
	)
	if err != nil {
		return otelcol.Factories{}, err
	}
	factories.ExporterModules = make(map[component.Type]string, len(factories.Exporters))
	factories.ExporterModules[debugexporter.NewFactory().Type()] = coreModule + "exporter/debugexporter" + coreVersion
	factories.ExporterModules[otlphttpexporter.NewFactory().Type()] = coreModule + "exporter/otlphttpexporter" + coreVersion
	factories.ExporterModules[prometheusremotewriteexporter.NewFactory().Type()] = contribModule + "exporter/prometheusremotewriteexporter" + contribVersion

	factories.Processors, err = otelcol.MakeFactoryMap[processor.Factory](
		batchprocessor.NewFactory(),
		memorylimiterprocessor.NewFactory(),
		filterprocessor.NewFactory(),
		transformprocessor.NewFactory(),
		topkprocessor.NewFactory(),
		groupbyattrsprocessor.NewFactory(),
		resourceprocessor.NewFactory(),
		// Processors users reach for in cost work, for their own pipelines (shared/pipeline.CustomProcessors).
		metricstransformprocessor.NewFactory(),
		intervalprocessor.NewFactory(),
		cumulativetodeltaprocessor.NewFactory(),
		deltatocumulativeprocessor.NewFactory(),
	)
	if err != nil {
		return otelcol.Factories{}, err
	}
	factories.ProcessorModules = make(map[component.Type]string, len(factories.Processors))
	factories.ProcessorModules[batchprocessor.NewFactory().Type()] = coreModule + "processor/batchprocessor" + coreVersion
	factories.ProcessorModules[memorylimiterprocessor.NewFactory().Type()] = coreModule + "processor/memorylimiterprocessor" + coreVersion
	factories.ProcessorModules[filterprocessor.NewFactory().Type()] = contribModule + "processor/filterprocessor" + contribVersion
	factories.ProcessorModules[transformprocessor.NewFactory().Type()] = contribModule + "processor/transformprocessor" + contribVersion
	factories.ProcessorModules[topkprocessor.NewFactory().Type()] = "github.com/phoenixotel/phoenix/deploy/collector/topkprocessor"
	factories.ProcessorModules[groupbyattrsprocessor.NewFactory().Type()] = contribModule + "processor/groupbyattrsprocessor" + contribVersion
	factories.ProcessorModules[resourceprocessor.NewFactory().Type()] = contribModule + "processor/resourceprocessor" + contribVersion
	factories.ProcessorModules[metricstransformprocessor.NewFactory().Type()] = contribModule + "processor/metricstransformprocessor" + contribVersion
	factories.ProcessorModules[intervalprocessor.NewFactory().Type()] = contribModule + "processor/intervalprocessor" + contribVersion
	factories.ProcessorModules[cumulativetodeltaprocessor.NewFactory().Type()] = contribModule + "processor/cumulativetodeltaprocessor" + contribVersion
	factories.ProcessorModules[deltatocumulativeprocessor.NewFactory().Type()] = contribModule + "processor/deltatocumulativeprocessor" + contribVersion

	factories.Connectors, err = otelcol.MakeFactoryMap[connector.Factory]()
	if err != nil {
		return otelcol.Factories{}, err
	}
	factories.ConnectorModules = make(map[component.Type]string, len(factories.Connectors))

	return factories, nil
}
