//! Printing tensors the way PyTorch's `repr` does.
//!
//! Users come to needle knowing what `print(tensor)` looks like in PyTorch, and
//! tests and bug reports compare the two side by side; matching PyTorch's layout
//! character for character (number style, column widths, wrapping, `...`
//! summaries, suffixes) keeps that comparison a plain string diff.

/// Everything PyTorch would derive from the tensor itself rather than from its
/// values: which suffixes follow the values, and whether they print as integers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FormatOptions {
    /// Appends PyTorch's `, requires_grad=True` after the values.
    pub requires_grad: bool,
    /// The values come from an integer (`i64`) tensor: they print without a
    /// decimal point, and an empty tensor says `dtype=i64` because, as in
    /// PyTorch, nothing else would tell it apart from an empty float tensor.
    pub is_integer: bool,
}

const PREFIX: &str = "tensor(";
/// PyTorch summarizes only tensors with strictly more elements than this.
const THRESHOLD: usize = 1000;
const EDGE_ITEMS: usize = 3;
const LINE_WIDTH: usize = 80;
const PRECISION: usize = 4;

/// One notation is chosen per tensor, never per element, so columns line up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Notation {
    Integer,
    /// Floats that all happen to be whole numbers: `1.`, which still tells the
    /// reader the dtype is floating point.
    IntegralFloat,
    Fixed,
    Scientific,
}

struct ElementFormatter {
    notation: Notation,
    width: usize,
}

impl ElementFormatter {
    /// Chooses notation and width from the elements that will be shown only,
    /// as PyTorch does, so a hidden outlier in a summary cannot widen the columns.
    fn new(shown: &[f64], is_integer: bool) -> Self {
        if is_integer {
            let width = shown.iter().map(|&v| integer(v).len()).fold(1, usize::max);
            return Self {
                notation: Notation::Integer,
                width,
            };
        }
        // Zeros and non-finite values fit any notation, so PyTorch lets only
        // the others decide; they are then padded to whatever width results.
        let deciding: Vec<f64> = shown
            .iter()
            .copied()
            .filter(|v| v.is_finite() && *v != 0.0)
            .collect();
        if deciding.is_empty() {
            return Self {
                notation: Notation::IntegralFloat,
                width: 1,
            };
        }
        let (min, max) = deciding
            .iter()
            .map(|v| v.abs())
            .fold((f64::INFINITY, 0.0_f64), |(lo, hi), a| {
                (lo.min(a), hi.max(a))
            });
        let scientific = max / min > 1000.0 || max > 1.0e8 || min < 1.0e-4;
        let integral = deciding.iter().all(|v| v.fract() == 0.0);
        let notation = match (scientific, integral) {
            (true, _) => Notation::Scientific,
            (false, true) => Notation::IntegralFloat,
            (false, false) => Notation::Fixed,
        };
        let width = deciding
            .iter()
            .map(|&v| match notation {
                // The trailing `.` is counted even though it is added later.
                Notation::IntegralFloat => format!("{v:.0}").len() + 1,
                Notation::Fixed => format!("{v:.PRECISION$}").len(),
                _ => scientific_str(v).len(),
            })
            .fold(1, usize::max);
        Self { notation, width }
    }

    fn format(&self, v: f64) -> String {
        let text = match self.notation {
            Notation::Integer => integer(v),
            _ if v.is_nan() => "nan".to_string(),
            _ if v.is_infinite() => if v > 0.0 { "inf" } else { "-inf" }.to_string(),
            Notation::IntegralFloat => format!("{v:.0}."),
            Notation::Fixed => format!("{v:.PRECISION$}"),
            Notation::Scientific => scientific_str(v),
        };
        format!("{text:>width$}", width = self.width)
    }
}

fn integer(v: f64) -> String {
    // Integer tensors hold exact whole numbers, so the cast loses nothing.
    (v as i64).to_string()
}

/// Python spells exponents with a sign and at least two digits (`e+10`,
/// `e-05`) where Rust writes `e10` and `e-5`.
fn scientific_str(v: f64) -> String {
    let rust = format!("{v:.PRECISION$e}");
    let (mantissa, exponent) = rust.split_once('e').unwrap_or((&rust, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let sign = if exponent < 0 { '-' } else { '+' };
    format!("{mantissa}e{sign}{:02}", exponent.unsigned_abs())
}

/// The indices shown along one axis; `None` marks the `...` gap.
fn shown_indices(size: usize, summarize: bool) -> Vec<Option<usize>> {
    if summarize && size > 2 * EDGE_ITEMS {
        (0..EDGE_ITEMS)
            .map(Some)
            .chain(std::iter::once(None))
            .chain((size - EDGE_ITEMS..size).map(Some))
            .collect()
    } else {
        (0..size).map(Some).collect()
    }
}

fn collect_shown(
    values: &[f64],
    shape: &[usize],
    offset: usize,
    summarize: bool,
    out: &mut Vec<f64>,
) {
    let Some((&size, inner_shape)) = shape.split_first() else {
        out.push(values[offset]);
        return;
    };
    let stride: usize = inner_shape.iter().product();
    for i in shown_indices(size, summarize).into_iter().flatten() {
        collect_shown(values, inner_shape, offset + i * stride, summarize, out);
    }
}

struct Printer<'a> {
    values: &'a [f64],
    formatter: ElementFormatter,
    summarize: bool,
}

impl Printer<'_> {
    /// `indent` is the column of this sub-tensor's opening bracket, which
    /// continuation lines align under.
    fn tensor(&self, shape: &[usize], offset: usize, indent: usize) -> String {
        match shape.len() {
            0 => self.formatter.format(self.values[offset]),
            1 => self.vector(shape[0], offset, indent),
            dims => {
                let stride: usize = shape[1..].iter().product();
                let slices: Vec<String> = shown_indices(shape[0], self.summarize)
                    .into_iter()
                    .map(|i| match i {
                        Some(i) => self.tensor(&shape[1..], offset + i * stride, indent + 1),
                        None => "...".to_string(),
                    })
                    .collect();
                // One blank line per level below a matrix keeps blocks visually apart.
                let separator = format!(",{}{}", "\n".repeat(dims - 1), " ".repeat(indent + 1));
                format!("[{}]", slices.join(&separator))
            }
        }
    }

    fn vector(&self, size: usize, offset: usize, indent: usize) -> String {
        // PyTorch counts every item, even the `...` marker, as one full-width
        // column plus its `, ` separator when deciding how many fit on a line.
        let per_line = (LINE_WIDTH.saturating_sub(indent) / (self.formatter.width + 2)).max(1);
        let items: Vec<String> = shown_indices(size, self.summarize)
            .into_iter()
            .map(|i| match i {
                Some(i) => self.formatter.format(self.values[offset + i]),
                None => " ...".to_string(),
            })
            .collect();
        let lines: Vec<String> = items.chunks(per_line).map(|c| c.join(", ")).collect();
        let separator = format!(",\n{}", " ".repeat(indent + 1));
        format!("[{}]", lines.join(&separator))
    }
}

/// Python's `str(tuple)`, since PyTorch prints sizes that way.
fn python_tuple(shape: &[usize]) -> String {
    match shape {
        [only] => format!("({only},)"),
        _ => {
            let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
            format!("({})", dims.join(", "))
        }
    }
}

/// Suffixes that would push the last line past the line width start a new
/// line of their own, as in PyTorch.
fn add_suffixes(body: String, suffixes: &[String]) -> String {
    let mut out = body;
    // PyTorch's measure of the last line comes out two more than its length;
    // keeping that quirk keeps the wrap points identical.
    let mut last_line_len = match out.rfind('\n') {
        Some(p) => out.len() - p + 1,
        None => out.len() + 2,
    };
    for suffix in suffixes {
        if last_line_len + suffix.len() + 2 > LINE_WIDTH {
            out.push_str(",\n");
            out.push_str(&" ".repeat(PREFIX.len()));
            last_line_len = PREFIX.len() + suffix.len();
        } else {
            out.push_str(", ");
            last_line_len += suffix.len() + 2;
        }
        out.push_str(suffix);
    }
    out.push(')');
    out
}

/// Formats `values`, laid out row-major with `shape`, exactly as PyTorch's
/// `repr` (and so `print`) shows a CPU tensor of the default dtype, `f32`, or
/// of `i64` when `opts.is_integer` is set, with PyTorch's default print options
/// (4 decimals, summaries above 1000 elements showing 3 items at each edge,
/// 80-column lines).
///
/// An empty `shape` is a 0-d tensor holding `values[0]`.
///
/// # Panics
///
/// If `values.len()` is not the product of `shape`.
///
/// # Example
///
/// (Not a doctest: this module is private, so a doctest cannot reach it; the unit test
/// `doc_example` runs exactly this.)
///
/// ```ignore
/// use needle_core::display::{format_tensor, FormatOptions};
///
/// let opts = FormatOptions { requires_grad: true, is_integer: false };
/// assert_eq!(
///     format_tensor(&[2, 2], &[1.0, 2.5, 3.0, 4.0], &opts),
///     "tensor([[1.0000, 2.5000],\n        [3.0000, 4.0000]], requires_grad=True)"
/// );
/// ```
#[must_use]
pub fn format_tensor(shape: &[usize], values: &[f64], opts: &FormatOptions) -> String {
    let numel: usize = shape.iter().product();
    assert_eq!(
        values.len(),
        numel,
        "format_tensor: {} values for shape {shape:?}",
        values.len()
    );
    let mut suffixes = Vec::new();
    let body = if numel == 0 {
        // `[]` alone cannot show the shape or the dtype, so both are spelled
        // out unless they are the defaults a reader would assume.
        if shape.len() != 1 {
            suffixes.push(format!("size={}", python_tuple(shape)));
        }
        if opts.is_integer {
            suffixes.push("dtype=i64".to_string());
        }
        "[]".to_string()
    } else {
        let summarize = numel > THRESHOLD;
        let mut shown = Vec::new();
        collect_shown(values, shape, 0, summarize, &mut shown);
        let printer = Printer {
            values,
            formatter: ElementFormatter::new(&shown, opts.is_integer),
            summarize,
        };
        printer.tensor(shape, 0, PREFIX.len())
    };
    if opts.requires_grad {
        suffixes.push("requires_grad=True".to_string());
    }
    add_suffixes(format!("{PREFIX}{body}"), &suffixes)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Every expected string below was printed by PyTorch 2.15 (`repr` of a
    // float32 or int64 CPU tensor), with `torch.int64` renamed to `i64`.

    fn float(shape: &[usize], values: &[f64]) -> String {
        format_tensor(shape, values, &FormatOptions::default())
    }

    fn int(shape: &[usize], values: &[f64]) -> String {
        let opts = FormatOptions {
            is_integer: true,
            ..FormatOptions::default()
        };
        format_tensor(shape, values, &opts)
    }

    fn with_grad(shape: &[usize], values: &[f64]) -> String {
        let opts = FormatOptions {
            requires_grad: true,
            ..FormatOptions::default()
        };
        format_tensor(shape, values, &opts)
    }

    fn range(n: usize) -> Vec<f64> {
        (0..n).map(|i| i as f64).collect()
    }

    #[test]
    fn zero_dim() {
        assert_eq!(float(&[], &[3.5]), "tensor(3.5000)");
        assert_eq!(float(&[], &[0.0]), "tensor(0.)");
    }

    #[test]
    fn one_dim_with_decimals() {
        assert_eq!(
            float(&[4], &[0.5, 0.25, 0.125, 0.0625]),
            "tensor([0.5000, 0.2500, 0.1250, 0.0625])"
        );
    }

    #[test]
    fn integral_floats_keep_a_point() {
        assert_eq!(float(&[3], &[1.0, 2.0, 3.0]), "tensor([1., 2., 3.])");
    }

    #[test]
    fn two_dim_rows_align_under_the_bracket() {
        assert_eq!(
            float(&[2, 2], &[1.0, 2.5, 3.0, 4.0]),
            "tensor([[1.0000, 2.5000],\n        [3.0000, 4.0000]])"
        );
    }

    #[test]
    fn higher_dims_separate_blocks_with_blank_lines() {
        assert_eq!(
            float(&[2, 2, 2], &range(8)),
            "tensor([[[0., 1.],\n         [2., 3.]],\n\n        [[4., 5.],\n         [6., 7.]]])"
        );
        assert_eq!(
            float(&[2, 1, 2, 1], &range(4)),
            "tensor([[[[0.],\n          [1.]]],\n\n\n        [[[2.],\n          [3.]]]])"
        );
    }

    #[test]
    fn negative_numbers_share_the_column_width() {
        assert_eq!(
            float(&[2, 2], &[-1.5, 2.25, 10.0, -100.125]),
            "tensor([[  -1.5000,    2.2500],\n        [  10.0000, -100.1250]])"
        );
    }

    #[test]
    fn scientific_notation_thresholds() {
        assert_eq!(
            float(&[2], &[1e10, 1.0]),
            "tensor([1.0000e+10, 1.0000e+00])"
        );
        assert_eq!(
            float(&[2], &[1e-5, -0.5]),
            "tensor([ 1.0000e-05, -5.0000e-01])"
        );
        // A spread over 1000x alone switches notation.
        assert_eq!(
            float(&[2], &[2000.5, 1.0]),
            "tensor([2.0005e+03, 1.0000e+00])"
        );
    }

    #[test]
    fn nan_and_inf_are_padded_to_the_column() {
        let inf = f64::INFINITY;
        assert_eq!(
            float(&[4], &[f64::NAN, inf, -inf, 1.5]),
            "tensor([   nan,    inf,   -inf, 1.5000])"
        );
        assert_eq!(
            float(&[3], &[f64::NAN, 1.0, -inf]),
            "tensor([nan, 1., -inf])"
        );
    }

    #[test]
    fn integer_tensors_have_no_point_and_no_dtype() {
        assert_eq!(int(&[3], &[1.0, 2.0, 3.0]), "tensor([1, 2, 3])");
        assert_eq!(
            int(&[2, 2], &[1.0, -20.0, 300.0, 4.0]),
            "tensor([[  1, -20],\n        [300,   4]])"
        );
    }

    #[test]
    fn requires_grad_suffix() {
        assert_eq!(
            with_grad(&[2], &[0.5, 1.5]),
            "tensor([0.5000, 1.5000], requires_grad=True)"
        );
        assert_eq!(with_grad(&[], &[2.0]), "tensor(2., requires_grad=True)");
    }

    #[test]
    fn suffix_too_long_for_the_last_line_wraps() {
        let values: Vec<f64> = (0..6).map(|i| i as f64 + 1000.5).collect();
        assert_eq!(
            with_grad(&[6], &values),
            "tensor([1000.5000, 1001.5000, 1002.5000, 1003.5000, 1004.5000, 1005.5000],\n       requires_grad=True)"
        );
    }

    #[test]
    fn doc_example() {
        let opts = FormatOptions {
            requires_grad: true,
            is_integer: false,
        };
        assert_eq!(
            format_tensor(&[2, 2], &[1.0, 2.5, 3.0, 4.0], &opts),
            "tensor([[1.0000, 2.5000],\n        [3.0000, 4.0000]], requires_grad=True)"
        );
    }

    #[test]
    fn long_rows_wrap_at_80_columns() {
        let values: Vec<f64> = (0..20).map(|i| i as f64 + 0.5).collect();
        assert_eq!(
            float(&[20], &values),
            "tensor([ 0.5000,  1.5000,  2.5000,  3.5000,  4.5000,  5.5000,  6.5000,  7.5000,\n         8.5000,  9.5000, 10.5000, 11.5000, 12.5000, 13.5000, 14.5000, 15.5000,\n        16.5000, 17.5000, 18.5000, 19.5000])"
        );
    }

    #[test]
    fn empty_tensors() {
        assert_eq!(float(&[0], &[]), "tensor([])");
        assert_eq!(float(&[0, 3], &[]), "tensor([], size=(0, 3))");
        assert_eq!(int(&[0], &[]), "tensor([], dtype=i64)");
        assert_eq!(
            with_grad(&[2, 0], &[]),
            "tensor([], size=(2, 0), requires_grad=True)"
        );
    }

    #[test]
    fn summarizes_a_long_vector() {
        // 1000 elements are still printed in full; one more is summarized.
        assert!(!float(&[1000], &range(1000)).contains("..."));
        assert_eq!(
            float(&[2000], &range(2000)),
            "tensor([0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 1.9970e+03, 1.9980e+03,\n        1.9990e+03])"
        );
        assert_eq!(
            int(&[2000], &range(2000)),
            "tensor([   0,    1,    2,  ..., 1997, 1998, 1999])"
        );
        // Hidden values cannot change the notation or the column width.
        let mut values: Vec<f64> = (0..2000).map(|i| (i % 100 + 1) as f64).collect();
        values[500] = f64::NAN;
        values[1000] = 1e10;
        assert_eq!(
            float(&[2000], &values),
            "tensor([  1.,   2.,   3.,  ...,  98.,  99., 100.])"
        );
    }

    #[test]
    fn summarizes_a_matrix() {
        let values: Vec<f64> = (0..10_000).map(|i| (i % 100 + 1) as f64).collect();
        let row = "[  1.,   2.,   3.,  ...,  98.,  99., 100.]";
        let expected = format!(
            "tensor([{row},\n        {row},\n        {row},\n        ...,\n        {row},\n        {row},\n        {row}])"
        );
        assert_eq!(float(&[100, 100], &values), expected);

        // Rows too wide for one line wrap inside each shown row.
        let s = float(&[100, 100], &range(10_000));
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(lines.len(), 13);
        assert_eq!(
            lines[0],
            "tensor([[0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 9.7000e+01, 9.8000e+01,"
        );
        assert_eq!(lines[1], "         9.9000e+01],");
        assert_eq!(lines[6], "        ...,");
        assert_eq!(lines[12], "         9.9990e+03]])");
    }

    #[test]
    fn summarizes_every_axis_of_a_3d_tensor() {
        let values: Vec<f64> = (0..4000).map(|i| (i % 7) as f64).collect();
        let expected = "tensor([[[0., 1., 2.,  ..., 6., 0., 1.],
         [2., 3., 4.,  ..., 1., 2., 3.],
         [4., 5., 6.,  ..., 3., 4., 5.],
         ...,
         [0., 1., 2.,  ..., 6., 0., 1.],
         [2., 3., 4.,  ..., 1., 2., 3.],
         [4., 5., 6.,  ..., 3., 4., 5.]],

        [[6., 0., 1.,  ..., 5., 6., 0.],
         [1., 2., 3.,  ..., 0., 1., 2.],
         [3., 4., 5.,  ..., 2., 3., 4.],
         ...,
         [6., 0., 1.,  ..., 5., 6., 0.],
         [1., 2., 3.,  ..., 0., 1., 2.],
         [3., 4., 5.,  ..., 2., 3., 4.]],

        [[5., 6., 0.,  ..., 4., 5., 6.],
         [0., 1., 2.,  ..., 6., 0., 1.],
         [2., 3., 4.,  ..., 1., 2., 3.],
         ...,
         [5., 6., 0.,  ..., 4., 5., 6.],
         [0., 1., 2.,  ..., 6., 0., 1.],
         [2., 3., 4.,  ..., 1., 2., 3.]],

        [[4., 5., 6.,  ..., 3., 4., 5.],
         [6., 0., 1.,  ..., 5., 6., 0.],
         [1., 2., 3.,  ..., 0., 1., 2.],
         ...,
         [4., 5., 6.,  ..., 3., 4., 5.],
         [6., 0., 1.,  ..., 5., 6., 0.],
         [1., 2., 3.,  ..., 0., 1., 2.]]])";
        assert_eq!(float(&[4, 10, 100], &values), expected);
    }

    #[test]
    #[should_panic(expected = "format_tensor")]
    fn rejects_values_that_do_not_fill_the_shape() {
        float(&[2, 2], &[1.0]);
    }
}
