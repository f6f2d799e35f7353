package experiment

// Prices are the cost model behind cost_per_hour (config PHOENIX_PRICE_PER_*): what a metrics
// backend charges for the series a pipeline keeps and the datapoints it sends.
type Prices struct {
	SeriesMonth       float64 // per active series per month (e.g. 0.008)
	MillionDatapoints float64 // per million datapoints ingested
}

// HoursPerMonth converts a monthly series price to an hourly one (365.25 × 24 / 12).
const HoursPerMonth = 730.5

// CostPerHour is series × SeriesMonth / 730.5 + datapointsPerSecond × 3600 / 10⁶ × MillionDatapoints.
func (p Prices) CostPerHour(series, datapointsPerSecond float64) float64 {
	return series*p.SeriesMonth/HoursPerMonth + datapointsPerSecond*3600/1e6*p.MillionDatapoints
}
