//! Money: the fleet's currency (ISO 4217) and how an amount is shown with it.

/// The active ISO 4217 codes (2026), so a typo is caught when it is set, not on a PDF.
const ISO_4217: &[&str] = &[
    "AED", "AFN", "ALL", "AMD", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT", "BGN",
    "BHD", "BIF", "BMD", "BND", "BOB", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF",
    "CHF", "CLP", "CNY", "COP", "CRC", "CUP", "CVE", "CZK", "DJF", "DKK", "DOP", "DZD", "EGP",
    "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ", "GYD",
    "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IQD", "IRR", "ISK", "JMD", "JOD", "JPY",
    "KES", "KGS", "KHR", "KMF", "KPW", "KRW", "KWD", "KYD", "KZT", "LAK", "LBP", "LKR", "LRD",
    "LSL", "LYD", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR", "MWK",
    "MXN", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN", "PGK",
    "PHP", "PKR", "PLN", "PYG", "QAR", "RON", "RSD", "RUB", "RWF", "SAR", "SBD", "SCR", "SDG",
    "SEK", "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB", "TJS",
    "TMT", "TND", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "UYU", "UZS", "VES",
    "VND", "VUV", "WST", "XAF", "XCD", "XCG", "XOF", "XPF", "YER", "ZAR", "ZMW", "ZWG",
];

/// Every code [`Currency::parse`] takes, sorted.
pub fn codes() -> &'static [&'static str] {
    ISO_4217
}

/// A currency code such as `EUR`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Currency(String);

impl Default for Currency {
    fn default() -> Self {
        Currency("EUR".into())
    }
}

impl Currency {
    /// Reads an ISO 4217 code, in any case (`eur` is `EUR`).
    pub fn parse(code: &str) -> Result<Self, String> {
        let code = code.trim().to_ascii_uppercase();
        if ISO_4217.binary_search(&code.as_str()).is_ok() {
            Ok(Currency(code))
        } else {
            Err(format!(
                "{code:?} is not an ISO 4217 currency code: use three letters such as EUR, USD, GBP or CHF"
            ))
        }
    }

    /// The code.
    pub fn code(&self) -> &str {
        &self.0
    }

    /// `12.30 EUR`.
    pub fn amount(&self, value: f64) -> String {
        format!("{value:.2} {}", self.0)
    }

    /// `0.30 EUR/kWh`.
    pub fn per_kwh(&self, value: f64) -> String {
        format!("{value:.2} {}/kWh", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_code_list_is_sorted_so_the_search_finds_every_code() {
        assert!(ISO_4217.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn codes_are_read_in_any_case_and_typos_are_refused() {
        for (input, expected) in [
            ("EUR", Some("EUR")),
            ("usd", Some("USD")),
            (" chf ", Some("CHF")),
            ("EUT", None),
            ("EURO", None),
            ("", None),
        ] {
            assert_eq!(
                Currency::parse(input).ok().as_ref().map(Currency::code),
                expected,
                "{input:?}"
            );
        }
        assert_eq!(Currency::default().amount(12.3), "12.30 EUR");
    }
}
