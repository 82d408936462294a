//! `#[module]`: parameter order and dotted names, buffers, the training flag through nested
//! containers, generic structs, summaries, and the crate-path override.

use std::fmt::Debug;

use needle::nn::{Forward, Linear, Module, ReLU, Training};
use needle::{module, Tensor};

#[module]
struct Lin {
    weight: Tensor,
    bias: Option<Tensor>,
    #[module(config)]
    in_features: usize,
}

fn lin(i: usize, o: usize, bias: bool) -> Lin {
    Lin {
        weight: Tensor::zeros(&[i, o]),
        bias: bias.then(|| Tensor::zeros(&[1, o])),
        in_features: i,
    }
}

#[module]
struct Block {
    lin1: Lin,
    #[module(buffer)]
    running: Tensor,
    training: Training,
    lin2: Lin,
    #[module(skip)]
    #[allow(dead_code)]
    note: String,
}

fn block() -> Block {
    Block {
        lin1: lin(2, 3, true),
        running: Tensor::zeros(&[3]),
        training: Training::default(),
        lin2: lin(3, 2, false),
        note: "not part of the module".into(),
    }
}

#[module]
struct Net<B: Module> {
    first: Lin,
    blocks: Vec<B>,
    head: Option<Lin>,
    arr: [Lin; 2],
}

fn net() -> Net<Block> {
    Net {
        first: lin(4, 2, true),
        blocks: vec![block(), block()],
        head: Some(lin(2, 1, true)),
        arr: [lin(1, 1, false), lin(1, 1, true)],
    }
}

fn names(list: Vec<(String, Tensor)>) -> Vec<String> {
    list.into_iter().map(|(n, _)| n).collect()
}

#[test]
fn parameters_in_declaration_order_with_dotted_names() {
    let n = net();
    assert_eq!(
        names(n.named_parameters()),
        [
            "first.weight",
            "first.bias",
            "blocks.0.lin1.weight",
            "blocks.0.lin1.bias",
            "blocks.0.lin2.weight",
            "blocks.1.lin1.weight",
            "blocks.1.lin1.bias",
            "blocks.1.lin2.weight",
            "head.weight",
            "head.bias",
            "arr.0.weight",
            "arr.1.weight",
            "arr.1.bias",
        ]
    );
    assert_eq!(
        names(n.named_buffers()),
        ["blocks.0.running", "blocks.1.running"]
    );
    // first 4x2 + 1x2; each block 2x3 + 1x3 + 3x2; head 2x1 + 1x1; arr 1x1, then 1x1 + 1x1.
    assert_eq!(n.num_parameters(), 10 + 2 * 15 + 3 + 1 + 2);
    assert_eq!(n.parameters().len(), 13);
    // The handles are the fields' own tensors, not copies.
    assert!(n.parameters()[2].same_handle(&n.blocks[0].lin1.weight));
}

#[test]
fn own_tensors_and_sub_modules_interleave_as_declared() {
    #[module]
    struct Mixed {
        a: Tensor,
        sub: Lin,
        b: Tensor,
        #[module(buffer)]
        stat: Tensor,
        inner: Block,
        #[module(buffer)]
        late_stat: Tensor,
    }
    let m = Mixed {
        a: Tensor::zeros(&[1]),
        sub: lin(1, 1, true),
        b: Tensor::zeros(&[1]),
        stat: Tensor::zeros(&[1]),
        inner: block(),
        late_stat: Tensor::zeros(&[1]),
    };
    assert_eq!(
        names(m.named_parameters()),
        [
            "a",
            "sub.weight",
            "sub.bias",
            "b",
            "inner.lin1.weight",
            "inner.lin1.bias",
            "inner.lin2.weight",
        ]
    );
    assert_eq!(
        names(m.named_buffers()),
        ["stat", "inner.running", "late_stat"]
    );
}

#[test]
fn tensor_containers_are_parameters_or_buffers() {
    #[module]
    struct Tensors {
        list: Vec<Tensor>,
        maybe: Option<Tensor>,
        absent: Option<Tensor>,
        fixed: [Tensor; 2],
        #[module(buffer)]
        stats: Vec<Tensor>,
        #[module(buffer)]
        maybe_stat: Option<Tensor>,
        #[module(buffer)]
        fixed_stats: [Tensor; 1],
        qualified: needle::Tensor,
    }
    let z = || Tensor::zeros(&[2]);
    let t = Tensors {
        list: vec![z(), z(), z()],
        maybe: Some(z()),
        absent: None,
        fixed: [z(), z()],
        stats: vec![z()],
        maybe_stat: Some(z()),
        fixed_stats: [z()],
        qualified: z(),
    };
    assert_eq!(
        names(t.named_parameters()),
        [
            "list.0",
            "list.1",
            "list.2",
            "maybe",
            "fixed.0",
            "fixed.1",
            "qualified"
        ]
    );
    assert_eq!(
        names(t.named_buffers()),
        ["stats.0", "maybe_stat", "fixed_stats.0"]
    );
    assert_eq!(t.num_parameters(), 14);
    let mut children = 0;
    t.visit_modules(&mut |_, _| children += 1);
    assert_eq!(children, 0);
    assert_eq!(t.summary(), "Tensors()");
}

#[module]
struct Containers {
    one: Block,
    many: Vec<Block>,
    maybe: Option<Block>,
    fixed: [Block; 2],
    boxed: Box<Block>,
    dynamic: Box<dyn Module>,
    plain: Lin,
}

fn containers() -> Containers {
    Containers {
        one: block(),
        many: vec![block(), block()],
        maybe: Some(block()),
        fixed: [block(), block()],
        boxed: Box::new(block()),
        dynamic: Box::new(block()),
        plain: lin(1, 1, false),
    }
}

fn all_flags(c: &Containers) -> Vec<bool> {
    let mut flags = vec![c.one.is_training()];
    flags.extend(c.many.iter().map(|b| b.is_training()));
    flags.extend(c.maybe.iter().map(|b| b.is_training()));
    flags.extend(c.fixed.iter().map(|b| b.is_training()));
    flags.push(c.boxed.training.get());
    flags.push(c.dynamic.is_training());
    flags
}

#[test]
fn train_and_eval_reach_every_nested_module() {
    let c = containers();
    assert_eq!(all_flags(&c), [true; 8]);
    assert!(c.is_training());
    c.eval();
    assert_eq!(all_flags(&c), [false; 8]);
    assert!(
        !c.is_training(),
        "a struct without its own flag reports its first sub-module's"
    );
    assert!(
        c.plain.is_training(),
        "a module without any flag is always training"
    );
    c.train();
    assert_eq!(all_flags(&c), [true; 8]);

    let n = net();
    n.eval();
    assert!(n.blocks.iter().all(|b| !b.is_training()));
    assert!(!n.is_training());
    n.train();
    assert!(n.blocks.iter().all(|b| b.is_training()));
}

#[test]
fn own_flag_wins_over_sub_modules() {
    #[module]
    struct Outer {
        inner: Block,
        training: Training,
    }
    let o = Outer {
        inner: block(),
        training: Training::default(),
    };
    o.eval();
    assert!(!o.is_training() && !o.inner.is_training());
    o.inner.train();
    assert!(
        !o.is_training(),
        "the struct's own flag is read, even when declared after a sub-module"
    );
}

#[test]
fn visit_modules_names_direct_children() {
    let mut children = Vec::new();
    containers().visit_modules(&mut |name, m| children.push(format!("{name}:{}", m.type_name())));
    assert_eq!(
        children,
        [
            "one:Block",
            "many.0:Block",
            "many.1:Block",
            "maybe:Block",
            "fixed.0:Block",
            "fixed.1:Block",
            "boxed:Block",
            "dynamic:Block",
            "plain:Lin",
        ]
    );
    let absent = Net::<Block> {
        head: None,
        blocks: vec![],
        ..net()
    };
    let mut children = Vec::new();
    absent.visit_modules(&mut |name, _| children.push(name.to_string()));
    assert_eq!(children, ["first", "arr.0", "arr.1"]);
}

#[test]
fn summary_of_a_small_model() {
    assert_eq!(lin(2, 3, true).summary(), "Lin(in_features=2)");
    assert_eq!(
        block().summary(),
        "Block(\n  (lin1): Lin(in_features=2)\n  (lin2): Lin(in_features=3)\n)"
    );
    let small = Net {
        first: lin(4, 2, true),
        blocks: vec![block()],
        head: None,
        arr: [lin(1, 1, false), lin(1, 1, true)],
    };
    assert_eq!(
        small.summary(),
        "Net(
  (first): Lin(in_features=4)
  (blocks.0): Block(
    (lin1): Lin(in_features=2)
    (lin2): Lin(in_features=3)
  )
  (arr.0): Lin(in_features=1)
  (arr.1): Lin(in_features=1)
)"
    );
    assert_eq!(
        small.type_name(),
        "Net",
        "generics are not part of the name"
    );
    assert_eq!(
        small.extra_repr(),
        "",
        "no config fields: the trait default"
    );
}

#[test]
fn config_fields_use_debug_and_join_with_commas() {
    #[module]
    struct Configured {
        #[module(config)]
        size: usize,
        #[module(config)]
        name: &'static str,
        #[module(config)]
        eps: f32,
        #[module(config)]
        shape: (usize, usize),
    }
    let c = Configured {
        size: 3,
        name: "x",
        eps: 1e-5,
        shape: (2, 4),
    };
    assert_eq!(c.extra_repr(), "size=3, name=\"x\", eps=1e-5, shape=(2, 4)");
    assert_eq!(c.num_parameters(), 0);
}

/// Type parameters in several positions, a where clause, and a generic config field: the
/// macro adds the `Module` / `Debug` bounds those fields need.
#[module]
struct Generic<M, C, const N: usize>
where
    M: Forward,
{
    inner: M,
    copies: [Lin; N],
    maybe: Option<Box<M>>,
    #[module(config)]
    setting: C,
}

#[test]
fn generic_structs() {
    let g = Generic {
        inner: ReLU::new(),
        copies: [lin(1, 1, false), lin(1, 1, false), lin(1, 1, false)],
        maybe: None::<Box<ReLU>>,
        setting: "cfg",
    };
    assert_eq!(
        names(g.named_parameters()),
        ["copies.0.weight", "copies.1.weight", "copies.2.weight"]
    );
    assert_eq!(g.extra_repr(), "setting=\"cfg\"");
    g.eval();
    assert!(!g.inner.is_training());

    fn needs_module<T: Module + ?Sized>(_: &T) {}
    needs_module(&g);
    let boxed: Box<dyn Module> = Box::new(net());
    assert_eq!(boxed.type_name(), "Net");
    let _: &dyn Debug = &g.setting;
}

#[test]
fn library_layers_as_fields() {
    #[module]
    struct Mlp {
        layers: Vec<Linear>,
        act: ReLU,
        tail: Box<dyn Forward>,
    }
    let m = Mlp {
        layers: vec![Linear::new(3, 4), Linear::with_bias(4, 2, false)],
        act: ReLU::new(),
        tail: Box::new(Linear::new(2, 1)),
    };
    assert_eq!(
        names(m.named_parameters()),
        [
            "layers.0.weight",
            "layers.0.bias",
            "layers.1.weight",
            "tail.weight",
            "tail.bias"
        ]
    );
    m.eval();
    assert!(!m.act.is_training() && !m.tail.is_training() && !m.is_training());
}

#[test]
fn crate_path_override() {
    // What a crate that only sees needle through a re-export writes; `needle::core` is also
    // the path the macro picks by itself in a crate that depends on the facade only.
    #[module(crate = "::needle::core")]
    struct ViaFacade {
        w: Tensor,
    }
    #[module(crate = "needle_core")]
    struct ViaCore {
        w: Tensor,
    }
    let a = ViaFacade {
        w: Tensor::zeros(&[2]),
    };
    let b = ViaCore {
        w: Tensor::zeros(&[2]),
    };
    assert_eq!(a.num_parameters() + b.num_parameters(), 4);
}

/// The example in the macro's documentation, which cannot be compiled there.
#[test]
fn documentation_example() {
    #[module]
    struct Affine {
        weight: Tensor,
        bias: Option<Tensor>,
        #[module(config)]
        features: usize,
    }

    impl Affine {
        fn new(features: usize, bias: bool) -> Affine {
            Affine {
                weight: Tensor::zeros(&[features, features]).requires_grad_(true),
                bias: bias.then(|| Tensor::zeros(&[1, features]).requires_grad_(true)),
                features,
            }
        }
    }

    #[module]
    struct Model {
        input: Affine,
        blocks: Vec<Affine>,
        #[module(buffer)]
        steps_seen: Tensor,
        training: Training,
        #[module(config)]
        depth: usize,
        #[module(skip)]
        #[allow(dead_code)]
        label: String,
    }

    let model = Model {
        input: Affine::new(4, true),
        blocks: vec![Affine::new(4, false), Affine::new(4, true)],
        steps_seen: Tensor::zeros(&[1]),
        training: Training::default(),
        depth: 2,
        label: "demo".into(),
    };
    let names: Vec<String> = model
        .named_parameters()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(
        names,
        [
            "input.weight",
            "input.bias",
            "blocks.0.weight",
            "blocks.1.weight",
            "blocks.1.bias"
        ]
    );
    assert_eq!(model.named_buffers()[0].0, "steps_seen");
    model.eval();
    assert!(!model.is_training());
    assert_eq!(
        model.summary(),
        "Model(\n  depth=2\n  (input): Affine(features=4)\n  (blocks.0): Affine(features=4)\n  (blocks.1): Affine(features=4)\n)"
    );
}
