//! Printing tensors the way PyTorch's `repr` does, so values read familiarly.

/// What is printed besides the values.
#[derive(Clone, Copy, Debug, Default)]
pub struct FormatOptions {
    /// Adds PyTorch's `, requires_grad=True` suffix.
    pub requires_grad: bool,
    /// Integer dtype: values print without a decimal point.
    pub is_integer: bool,
}

const PREFIX: &str = "tensor(";
const SUMMARIZE_ABOVE: usize = 1000;
const EDGE_ITEMS: usize = 3;
const LINE_WIDTH: usize = 80;

/// How every element of one tensor is written (one style for all, as PyTorch chooses it).
enum Style {
    Integer,
    IntegralFloat,
    Fixed,
    Scientific,
}

fn choose_style(values: &[f64], opts: &FormatOptions) -> Style {
    if opts.is_integer {
        return Style::Integer;
    }
    let finite: Vec<f64> = values
        .iter()
        .copied()
        .filter(|v| v.is_finite() && *v != 0.0)
        .map(f64::abs)
        .collect();
    if finite.is_empty() {
        return Style::IntegralFloat;
    }
    let (lo, hi) = finite
        .iter()
        .fold((f64::MAX, 0.0f64), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    let integral = values
        .iter()
        .filter(|v| v.is_finite())
        .all(|v| v.fract() == 0.0);
    if integral {
        if hi / lo > 1000.0 || hi > 1e8 {
            Style::Scientific
        } else {
            Style::IntegralFloat
        }
    } else if hi / lo > 1000.0 || hi > 1e8 || lo < 1e-4 {
        Style::Scientific
    } else {
        Style::Fixed
    }
}

fn format_value(v: f64, style: &Style) -> String {
    if v.is_nan() {
        return "nan".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    match style {
        Style::Integer => format!("{}", v as i64),
        Style::IntegralFloat => format!("{v:.0}."),
        Style::Fixed => format!("{v:.4}"),
        Style::Scientific => {
            // Rust writes `1.0000e10`; Python writes `1.0000e+10`.
            let s = format!("{v:.4e}");
            let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
            let (sign, digits) = exp.strip_prefix('-').map_or(("+", exp), |d| ("-", d));
            format!("{mantissa}e{sign}{digits:0>2}")
        }
    }
}

/// Indices shown along an axis of `size`: all, or the first and last `EDGE_ITEMS` with a gap.
fn shown(size: usize, summarize: bool) -> Vec<Option<usize>> {
    if summarize && size > 2 * EDGE_ITEMS {
        let mut v: Vec<Option<usize>> = (0..EDGE_ITEMS).map(Some).collect();
        v.push(None);
        v.extend((size - EDGE_ITEMS..size).map(Some));
        v
    } else {
        (0..size).map(Some).collect()
    }
}

fn write_dim(
    out: &mut String,
    strings: &[String],
    shape: &[usize],
    offset: usize,
    indent: usize,
    summarize: bool,
    width: usize,
) {
    if shape.len() == 1 {
        let per_line = ((LINE_WIDTH.saturating_sub(indent)) / (width + 2)).max(1);
        let items: Vec<String> = shown(shape[0], summarize)
            .into_iter()
            .map(|i| match i {
                Some(i) => format!("{:>width$}", strings[offset + i]),
                // PyTorch's marker element carries a leading space.
                None => " ...".to_string(),
            })
            .collect();
        out.push('[');
        for (k, item) in items.iter().enumerate() {
            if k > 0 {
                out.push(',');
                if k % per_line == 0 {
                    out.push('\n');
                    out.push_str(&" ".repeat(indent + 1));
                } else {
                    out.push(' ');
                }
            }
            out.push_str(item);
        }
        out.push(']');
        return;
    }
    let inner: usize = shape[1..].iter().product();
    let separator = format!(
        ",{}{}",
        "\n".repeat(shape.len() - 1),
        " ".repeat(indent + 1)
    );
    out.push('[');
    for (k, i) in shown(shape[0], summarize).into_iter().enumerate() {
        if k > 0 {
            out.push_str(&separator);
        }
        match i {
            Some(i) => write_dim(
                out,
                strings,
                &shape[1..],
                offset + i * inner,
                indent + 1,
                summarize,
                width,
            ),
            None => out.push_str("..."),
        }
    }
    out.push(']');
}

/// Formats row-major `values` of `shape` like PyTorch's `print(tensor)`.
///
/// ```ignore
/// let s = format_tensor(&[2, 2], &[1.0, 2.5, 3.0, 4.0], &FormatOptions::default());
/// assert_eq!(s, "tensor([[1.0000, 2.5000],\n        [3.0000, 4.0000]])");
/// ```
pub fn format_tensor(shape: &[usize], values: &[f64], opts: &FormatOptions) -> String {
    let numel: usize = shape.iter().product();
    let suffix = if opts.requires_grad {
        ", requires_grad=True"
    } else {
        ""
    };
    if numel == 0 {
        let size = if shape.len() == 1 {
            String::new()
        } else {
            let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
            format!(", size=({})", dims.join(", "))
        };
        return format!("{PREFIX}[]{size}{suffix})");
    }
    let summarize = numel > SUMMARIZE_ABOVE;
    // The style and width come from the elements that are shown, as in PyTorch.
    let style = choose_style(values, opts);
    let strings: Vec<String> = values.iter().map(|&v| format_value(v, &style)).collect();
    if shape.is_empty() {
        return format!("{PREFIX}{}{suffix})", strings[0]);
    }
    // PyTorch sizes columns by the finite values; nan/inf are padded to that width.
    let width = strings
        .iter()
        .zip(values)
        .filter(|(_, v)| v.is_finite())
        .map(|(s, _)| s.len())
        .max()
        .unwrap_or(0);
    let mut body = String::new();
    write_dim(
        &mut body,
        &strings,
        shape,
        0,
        PREFIX.len(),
        summarize,
        width,
    );
    format!("{PREFIX}{body}{suffix})")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(shape: &[usize], v: &[f64]) -> String {
        format_tensor(shape, v, &FormatOptions::default())
    }

    #[test]
    fn matches_pytorch_layouts() {
        assert_eq!(f(&[], &[3.5]), "tensor(3.5000)");
        assert_eq!(f(&[3], &[1.0, 2.0, 3.0]), "tensor([1., 2., 3.])");
        assert_eq!(
            f(&[2, 2], &[1.0, 2.5, 3.0, 4.0]),
            "tensor([[1.0000, 2.5000],\n        [3.0000, 4.0000]])"
        );
        assert_eq!(f(&[2], &[-1.5, 2.25]), "tensor([-1.5000,  2.2500])");
        assert_eq!(f(&[2], &[1e10, 1.0]), "tensor([1.0000e+10, 1.0000e+00])");
        assert_eq!(
            f(&[3], &[f64::NAN, f64::INFINITY, 1.0]),
            "tensor([nan, inf, 1.])"
        );
        assert_eq!(f(&[0], &[]), "tensor([])");
        assert_eq!(f(&[0, 3], &[]), "tensor([], size=(0, 3))");
        let int = FormatOptions {
            is_integer: true,
            requires_grad: false,
        };
        assert_eq!(
            format_tensor(&[3], &[1.0, 20.0, 3.0], &int),
            "tensor([ 1, 20,  3])"
        );
        let rg = FormatOptions {
            is_integer: false,
            requires_grad: true,
        };
        assert_eq!(
            format_tensor(&[1], &[0.5], &rg),
            "tensor([0.5000], requires_grad=True)"
        );
        assert_eq!(
            f(&[2, 1, 2], &[1.0, 2.0, 3.0, 4.0]),
            "tensor([[[1., 2.]],\n\n        [[3., 4.]]])"
        );
    }

    #[test]
    fn long_tensors_are_summarized_and_wrapped() {
        let v: Vec<f64> = (0..2000).map(|i| (i % 100) as f64).collect();
        let s = f(&[2000], &v);
        assert_eq!(s, "tensor([ 0.,  1.,  2.,  ..., 97., 98., 99.])");
        let m = f(
            &[100, 100],
            &(0..10_000).map(|i| (i % 7) as f64).collect::<Vec<_>>(),
        );
        assert_eq!(m.lines().count(), 7);
        assert!(m.contains("        ...,\n"));
        let wrapped = f(&[30], &(0..30).map(|i| i as f64 + 0.5).collect::<Vec<_>>());
        assert!(
            wrapped.lines().count() > 1 && wrapped.lines().all(|l| l.len() <= 80),
            "{wrapped}"
        );
    }
}
