-- One fan joins the pre-queue before the sale opens (bench/demo, as demo_buyer).
SELECT demo.join();
